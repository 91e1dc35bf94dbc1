from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

api_patterns = [
    path("", include("tradingweb.api_urls")),
    path("", include("broker.api_urls")),
    path("", include("workflows.api_urls")),
    path("", include("execution.api_urls")),
    path("", include("agents.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Its own template: drf-spectacular's loads web fonts from Google.
    path("redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html"), name="redoc"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("", include("tradingweb.page_urls")),
    path("", include("workflows.page_urls")),
    path("", include("execution.page_urls")),
    path("", include("broker.page_urls")),
]
# No public /media/ route: stored files are traders' data; chart images go through the
# owner-checked tradingweb.views.chart_image on every storage.
