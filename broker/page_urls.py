"""Pages of the broker app: orders, portfolio and chart data (the chart pages are tradingweb's)."""

from django.urls import path

from broker import views

urlpatterns = [
    path("orders/", views.orders, name="orders"),
    path("orders/active/", views.orders_active, name="orders-active"),
    path("orders/place/", views.order_place, name="order-place"),
    path("orders/<int:pk>/cancel/", views.order_cancel_view, name="order-cancel"),
    path("orders/<int:pk>/modify/", views.order_modify_view, name="order-modify"),
    path("portfolio/", views.portfolio, name="portfolio"),
    path("portfolio/live/", views.portfolio_live, name="portfolio-live"),
    path("charts/<int:conid>/data/", views.chart_data, name="chart-data"),
]
