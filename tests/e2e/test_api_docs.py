"""The API docs pages (Swagger UI and Redoc) render the schema from the project's own build, with no other host."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def requested_hosts(page) -> set[str]:
    """Hosts the page fetched from (blob: and data: URLs are the page's own; a refused request never finishes)."""
    hosts: set[str] = set()

    def finished(request):
        if request.url.startswith("http"):
            hosts.add(urlsplit(request.url).netloc)

    page.on("requestfinished", finished)
    return hosts


def test_swagger_ui_lists_the_operations_from_local_assets(page, live_server):
    hosts = requested_hosts(page)

    page.goto("/api/docs/")

    expect(page.locator(".opblock-summary-path", has_text="/api/orders/").first).to_be_visible()
    assert hosts == {urlsplit(live_server.url).netloc}
    assert not page.problems.messages


def test_redoc_renders_the_schema_from_local_assets(page, live_server):
    hosts = requested_hosts(page)

    page.goto("/api/redoc/")

    # Redoc renders the whole schema before its first heading: seconds on a busy machine.
    expect(page.get_by_role("heading", name="tradingweb API", exact=False).first).to_be_visible(timeout=30_000)
    expect(page.locator("[data-section-id^='tag/orders']").first).to_be_attached()
    expect(page.get_by_text("/api/orders/").first).to_be_attached()
    assert hosts == {urlsplit(live_server.url).netloc}
    # The page's policy refuses the one image Redoc would fetch from its CDN; nothing else goes wrong.
    assert [message for message in page.problems.messages if "cdn.redoc.ly" not in message] == []
