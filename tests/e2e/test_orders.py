"""A trader places a manual order from the orders page, is stopped by the inline checks first, and cancels it."""

import pytest
from playwright.sync_api import expect

from broker.models import Order
from tests.e2e.conftest import save_screenshots
from tests.support.seed import busy_trader

pytestmark = pytest.mark.e2e


def test_a_trader_places_and_cancels_a_manual_order(logged_in_page, trader, settings):
    settings.BROKER_ADAPTER, settings.TRADING_MODE = "simulated", "paper"
    busy_trader(trader)
    page = logged_in_page
    page.goto("/orders/")
    form = page.locator("[data-order-form]")

    # The inline checks stop a fractional quantity and a limit order without a price before any request.
    form.get_by_label("Symbol").fill("ko")
    form.get_by_label("Quantity (shares)").fill("1.5")
    form.get_by_role("button", name="Place order").click()
    expect(form.locator("[data-client-error]")).to_contain_text(["Quantity must be a whole number of shares.",
                                                                  "A LMT order needs a positive price."])
    assert Order.objects.filter(owner=trader, instrument__symbol="KO").count() == 0

    form.get_by_label("Quantity (shares)").fill("3")
    form.get_by_label("Limit price").fill("1.00")
    form.get_by_label("Time in force").select_option("GTC")
    form.get_by_role("button", name="Place order").click()
    expect(page.locator("#toasts [data-kind='success']")).to_contain_text("sent: BUY 3 KO LMT")
    order = Order.objects.get(owner=trader, instrument__symbol="KO")
    row = page.locator(f"#active-orders [data-order='{order.pk}']")
    expect(row).to_contain_text("KO")
    expect(page.locator("[data-order-form] [data-client-error]")).to_have_count(0)  # a fresh form
    save_screenshots(page, "orders")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Cancel order {order.pk}").click()
    expect(page.locator("#toasts [data-kind='success']", has_text="cancelled")).to_be_visible()
    expect(row).to_have_count(0)
    expect(page.locator(f"#order-history [data-order='{order.pk}']")).to_contain_text("Cancelled")
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert page.problems.messages == []


def test_a_market_order_disables_the_price(logged_in_page):
    page = logged_in_page
    page.goto("/orders/")
    form = page.locator("[data-order-form]")
    form.get_by_label("Type").select_option("MKT")
    expect(form.get_by_label("Limit price")).to_be_disabled()
    form.get_by_label("Type").select_option("LMT")
    expect(form.get_by_label("Limit price")).to_be_enabled()
