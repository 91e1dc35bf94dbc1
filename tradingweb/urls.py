from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

api_patterns = [
    path("", include("tradingweb.api_urls")),
    path("", include("broker.api_urls")),
    path("", include("broker.api_urls_portfolio")),
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
    path("", include("agents.page_urls")),
]

if not settings.STORAGES["default"]["BACKEND"].startswith("storages."):
    urlpatterns.append(
        path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve, {"document_root": settings.MEDIA_ROOT})
    )
