"""The project's routes: the admin, the project's own API and pages, the API schema and docs, and each app's
urls.py (API under /api/, pages under /).

Each nav URL name (dashboard, strategies, … charts) is a stable name: a later page replaces the view behind it,
and the navigation follows.
"""

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from tradingweb import views
from tradingweb.health import HealthView
from tradingweb.tokens import MyTokenView, ObtainTokenView

api_urlpatterns = [
    path("health/", HealthView.as_view(), name="api-health"),
    path("auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("auth/me/token/", MyTokenView.as_view(), name="api-my-token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Its own template: drf-spectacular's loads web fonts from Google.
    path("redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html"), name="redoc"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_urlpatterns)),
    path("accounts/login/", views.TraderLoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("accounts/token/", views.api_token, name="api-token-page"),
    path("", views.dashboard, name="dashboard"),
    path("dashboard/account/", views.dashboard_account, name="dashboard-account"),
    path("charts/", views.charts, name="charts"),
    path("charts/images/<int:pk>.png", views.chart_image, name="chart-image"),
    path("", include("broker.urls")),
    path("", include("workflows.urls")),
    path("", include("execution.urls")),
    path("", include("agents.urls")),
]
# No public /media/ route: stored files are traders' data; chart images go through the
# owner-checked tradingweb.views.chart_image on every storage.
