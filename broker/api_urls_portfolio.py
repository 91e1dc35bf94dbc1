"""Routes of the orders and portfolio API (mounted under /api/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from broker.api.orders import OrderViewSet
from broker.api.portfolio import PortfolioView, PositionsView, RiskView, TradeListView

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    *router.urls,
    path("portfolio/", PortfolioView.as_view(), name="portfolio"),
    path("portfolio/positions/", PositionsView.as_view(), name="portfolio-positions"),
    path("portfolio/trades/", TradeListView.as_view(), name="portfolio-trades"),
    path("portfolio/risk/", RiskView.as_view(), name="portfolio-risk"),
]
