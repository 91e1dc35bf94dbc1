from django.urls import path

from tradingweb.health import HealthView
from tradingweb.tokens import MyTokenView, ObtainTokenView

urlpatterns = [
    path("health/", HealthView.as_view(), name="api-health"),
    path("auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("auth/me/token/", MyTokenView.as_view(), name="api-my-token"),
]
