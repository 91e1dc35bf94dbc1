"""Routes of the broker app: its API (instruments, broker status, charts, orders and the portfolio) and its
pages (orders, portfolio and chart data; the chart pages are tradingweb's).

The API's "portfolio" and the page's "portfolio" share a name; the page comes last, so reverse("portfolio")
gives the page.
"""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from broker import views
from broker.api.market import AuthenticateView, ChartHistoryView, ChartView, InstrumentViewSet
from broker.api.orders import OrderViewSet
from broker.api.portfolio import PortfolioView, PositionsView, RiskView, TradeListView

market = SimpleRouter()
market.register("instruments", InstrumentViewSet, basename="instrument")
orders = SimpleRouter()
orders.register("orders", OrderViewSet, basename="order")

api_urlpatterns = [
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

urlpatterns = [
    path("api/", include(api_urlpatterns)),
    path("orders/", views.orders, name="orders"),
    path("orders/active/", views.orders_active, name="orders-active"),
    path("orders/place/", views.order_place, name="order-place"),
    path("orders/<int:pk>/cancel/", views.order_cancel_view, name="order-cancel"),
    path("orders/<int:pk>/modify/", views.order_modify_view, name="order-modify"),
    path("portfolio/", views.portfolio, name="portfolio"),
    path("portfolio/live/", views.portfolio_live, name="portfolio-live"),
    path("charts/<int:conid>/data/", views.chart_data, name="chart-data"),
]
