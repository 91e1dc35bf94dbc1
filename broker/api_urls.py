"""Routes of the instruments, broker status and charts API (mounted under /api/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from broker.api.market import AuthenticateView, ChartHistoryView, ChartView, InstrumentViewSet

router = SimpleRouter()
router.register("instruments", InstrumentViewSet, basename="instrument")

urlpatterns = [
    *router.urls,
    path("authenticate/", AuthenticateView.as_view(), name="broker-authenticate"),
    path("charts/history/<int:conid>/", ChartHistoryView.as_view(), name="chart-history"),
    path("charts/<int:conid>/", ChartView.as_view(), name="chart"),
]
