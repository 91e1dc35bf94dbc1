from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token

from tradingweb.health import HealthView
from tradingweb.tokens import MyTokenView

urlpatterns = [
    path("health/", HealthView.as_view(), name="api-health"),
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("auth/me/token/", MyTokenView.as_view(), name="api-my-token"),
]
