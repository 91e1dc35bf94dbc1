"""The header's notification bell in a real browser: a live count, a toast per new notification, mark-as-read."""

import pytest
from playwright.sync_api import expect

from execution.models import Notification
from execution.notifications import notify
from tests.e2e.conftest import PHONE
from tests.support.seed import busy_trader

pytestmark = pytest.mark.e2e


def test_the_bell_counts_live_notifications_raises_a_toast_and_marks_them_read(logged_in_page, trader):
    page = logged_in_page
    history = busy_trader(trader)[0]
    Notification.objects.create(
        owner=trader, kind=Notification.Kind.ORDER_FILLED, title="BUY AAPL filled: 20 of 20 at 99.95",
        data={"execution_id": history.execution.pk},
    )
    page.goto("/")
    bell = page.locator("[data-notification-bell]")
    count = bell.locator("[data-unread-count]")
    expect(count).to_have_text("1")
    expect(bell).to_have_attribute("data-state", "live")

    notify(trader, Notification.Kind.EXECUTION_FAILED, "Execution 9 of Momentum workflow failed", "Broker timeout")
    expect(count).to_have_text("2")
    expect(page.locator("#toasts [data-kind='error']")).to_contain_text("Execution 9 of Momentum workflow failed")

    page.get_by_role("button", name="Notifications: 2 unread").click()
    panel = page.locator("#notification-panel")
    expect(panel.locator("[data-notification]")).to_have_count(2)
    expect(panel.locator("[data-notification]").first).to_contain_text("Broker timeout")

    panel.locator("[data-notification]").first.locator("[data-mark-read]").click()
    expect(count).to_have_text("1")
    expect(panel.locator("[data-notification]").first).to_have_attribute("data-read", "true")

    panel.locator("[data-mark-all-read]").click()
    expect(count).to_be_hidden()
    assert not Notification.objects.filter(owner=trader, read_at__isnull=True).exists()
    assert page.problems.messages == []


def test_the_notification_list_fits_a_phone_and_opens_a_notifications_execution(logged_in_page, trader, live_server):
    page = logged_in_page
    history = busy_trader(trader)[0]
    Notification.objects.create(
        owner=trader, kind=Notification.Kind.APPROVAL_REQUESTED, title="BUY AAPL waits for your approval",
        data={"execution_id": history.execution.pk},
    )
    page.set_viewport_size(PHONE)
    page.goto("/")
    page.get_by_role("button", name="Notifications: 1 unread").click()
    panel = page.locator("#notification-panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

    panel.get_by_role("link", name="BUY AAPL waits for your approval").click()
    expect(page).to_have_url(
        f"{page.url.split('/', 3)[0]}//{page.url.split('/', 3)[2]}/executions/{history.execution.pk}/"
    )
    assert Notification.objects.get(owner=trader).read_at is not None
