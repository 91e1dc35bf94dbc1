"""Pages of the foundation. Each nav URL name (dashboard, strategies, … charts) is a stable name:
a later page replaces the view behind it here, and the navigation follows."""

from django.contrib.auth.views import LogoutView
from django.urls import path

from tradingweb import views

urlpatterns = [
    path("accounts/login/", views.TraderLoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("accounts/token/", views.api_token, name="api-token-page"),
    path("", views.dashboard, name="dashboard"),
    path("dashboard/account/", views.dashboard_account, name="dashboard-account"),
    path("charts/", views.charts, name="charts"),
    path("charts/images/<int:pk>.png", views.chart_image, name="chart-image"),
]
