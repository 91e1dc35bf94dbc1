"""Routes of the broker API (mounted under /api/): instruments, broker status, charts, orders and the portfolio."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from broker.api.market import AuthenticateView, ChartHistoryView, ChartView, InstrumentViewSet
from broker.api.orders import OrderViewSet
from broker.api.portfolio import PortfolioView, PositionsView, RiskView, TradeListView

market = SimpleRouter()
market.register("instruments", InstrumentViewSet, basename="instrument")
orders = SimpleRouter()
orders.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    *market.urls,
    path("authenticate/", AuthenticateView.as_view(), name="broker-authenticate"),
    path("charts/history/<int:conid>/", ChartHistoryView.as_view(), name="chart-history"),
    path("charts/<int:conid>/", ChartView.as_view(), name="chart"),
    *orders.urls,
    path("portfolio/", PortfolioView.as_view(), name="portfolio"),
    path("portfolio/positions/", PositionsView.as_view(), name="portfolio-positions"),
    path("portfolio/trades/", TradeListView.as_view(), name="portfolio-trades"),
    path("portfolio/risk/", RiskView.as_view(), name="portfolio-risk"),
]
