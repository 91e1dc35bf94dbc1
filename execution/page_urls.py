"""Pages of the execution app (mounted under /)."""

from django.urls import path

from execution import views

urlpatterns = [
    path("analytics/", views.analytics, name="analytics"),
]
