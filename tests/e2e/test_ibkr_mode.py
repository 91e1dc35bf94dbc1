"""Every page in IBKR mode, in a browser, served by daphne as the Procfile runs it, against the gateway simulator.

The web server is its own OS process with BROKER_ADAPTER=ibkr (daphne runs the sync views in its
thread pool, where ib_insync once could not even be imported). A trader opens every page of the
app with no console error and no failed request, sees the paper account on the portfolio, places a
manual order from the orders page and cancels it there; the simulator holds and then cancels it.
"""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from broker.models import Order
from tests.e2e.conftest import DESKTOP, BrowserProblems
from tests.integration.ibkr_gateway.conftest import gateway, paper_account, web  # noqa: F401 - fixtures
from tests.tradingweb.pages.test_every_page_requires_login import PAGES
from tests.workers import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
# The account card is a fragment the dashboard loads (and the dashboard is visited): not a page of its own.
FULL_PAGES = [name for name in PAGES if name != "dashboard-account"]


@pytest.fixture
def ibkr_page(browser, web, trader):  # noqa: F811 - the web fixture
    """A logged-in page of the daphne process in IBKR mode."""
    client = Client()
    client.force_login(trader)
    session = client.cookies[settings.SESSION_COOKIE_NAME]
    context = browser.new_context(viewport=DESKTOP, base_url=web.url)
    context.set_default_timeout(60_000)  # the first broker call of the web process connects to the gateway
    context.add_cookies([{"name": session.key, "value": session.value, "url": web.url}])
    page = context.new_page()
    page.problems = BrowserProblems(page)
    yield page
    context.close()


def test_every_page_works_in_ibkr_mode_and_a_manual_order_is_placed_and_cancelled(
    ibkr_page, web, gateway, paper_account, trader  # noqa: F811 - fixtures
):
    page = ibkr_page
    for name in FULL_PAGES:
        response = page.goto(reverse(name))
        page.wait_for_load_state("networkidle")
        assert response.status == 200, (name, web.log_tail())
        assert not page.problems.messages, (name, page.problems.messages, web.log_tail())

    page.goto(reverse("portfolio"))
    expect(page.get_by_text(paper_account).first).to_be_visible()  # the simulator's paper account, via IBKR

    page.goto(reverse("orders"))
    form = page.locator("[data-order-form]")
    form.get_by_label("Symbol").fill("SLOW")
    form.get_by_label("Quantity (shares)").fill("3")
    form.get_by_label("Limit price").fill("20.00")
    form.get_by_role("button", name="Place order").click()
    expect(page.locator("#toasts [data-kind='success']")).to_contain_text("sent: BUY 3 SLOW LMT")
    order = Order.objects.get(owner=trader, instrument__symbol="SLOW")
    [at_gateway] = [record for record in gateway.orders.values() if record.order_ref == order.idempotency_key]
    assert at_gateway.quantity == 3

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#active-orders [data-order='{order.pk}']").get_by_role(
        "button", name=f"Cancel order {order.pk}"
    ).click()
    wait_until(lambda: at_gateway.status == "Cancelled", timeout=30, message="the gateway cancelled the order")
    wait_until(
        lambda: Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED,
        timeout=30,
        message="the order recorded as cancelled",
    )
    assert not page.problems.messages, (page.problems.messages, web.log_tail())
