"""A trader answers a parked decision on its execution page: live risk arithmetic, the server's refusals inline."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from execution.approvals import approval_reject
from execution.models import Decision
from tests.e2e.conftest import save_screenshots
from tests.execution.approvals.conftest import park_here, wait_for_end

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def approval_settings(settings):
    settings.CHART_WIDTH = 480
    settings.CHART_HEIGHT = 320
    settings.LLM_PROVIDER = "offline"
    settings.APPROVAL_MAX_PRICE_MOVE_PCT = 5.0
    settings.APPROVAL_TIMEOUT_SECONDS = 300
    return settings


def test_a_trader_checks_the_arithmetic_and_approves_a_parked_decision(logged_in_page, trader, celery_worker):
    page = logged_in_page
    execution = park_here(trader, symbols=("AAPL",))
    decision = Decision.objects.get(execution=execution)
    entry = decision.current_price

    page.goto(f"/executions/{execution.pk}/")
    panel = page.locator("#approval")
    expect(panel).to_contain_text("Your approval is needed")
    expect(page.locator("[data-execution-detail][data-synced]")).to_be_attached()
    expect(panel.locator("[data-approval-chart]").first).to_be_visible()
    expect(panel.locator("[data-risk-r]")).to_have_text("2.00")  # target +10 %, stop -5 %
    expect(panel.locator("[data-countdown]")).to_contain_text("left")

    # A stop above the entry of a buy: the page says so before asking the server.
    panel.locator("[data-approval-stop]").fill(str((entry * Decimal("1.02")).quantize(Decimal("0.01"))))
    expect(panel.locator("[data-risk-arithmetic]")).to_contain_text("Inconsistent levels for a buy")
    panel.locator("[data-approval-stop]").fill(str(decision.stop_loss))
    expect(panel.locator("[data-risk-r]")).to_have_text("2.00")

    # More shares than the risk rules allow: the server refuses (400) and says why, next to the form.
    panel.locator("[data-approval-quantity]").fill("100000")
    expect(panel.locator("[data-risk-amount]")).not_to_have_text("—")
    panel.locator("[data-modify]").click()
    expect(panel.locator("[data-approval-errors]")).to_contain_text("quantity")
    decision.refresh_from_db()
    assert decision.quantity != Decimal("100000")
    page.problems.clear()  # that 400 was the point
    panel.locator("[data-approval-quantity]").fill(str(int(decision.quantity)))
    page.evaluate("document.querySelectorAll('#toasts > *').forEach((toast) => toast.remove()); window.scrollTo(0, 0)")
    save_screenshots(page, "approval-panel")

    panel.locator("[data-approve]").click()
    expect(page.locator("#toasts")).to_contain_text("Approved")
    expect(page.locator("[data-approval-answered='approved']")).to_be_visible()
    finished = wait_for_end(execution.pk)
    assert finished.status == "completed"
    expect(page.locator("[data-exec-status] [data-status='completed']")).to_be_visible(timeout=30_000)
    assert page.problems.messages == []


def test_an_answer_from_elsewhere_makes_the_stale_panel_show_the_409(logged_in_page, trader, celery_worker):
    page = logged_in_page
    execution = park_here(trader, symbols=("AAPL",))
    # The page's socket is cut off from the server, so the other answer does not reach it live.
    page.route_web_socket("**/ws/executions/**", lambda socket: None)
    page.goto(f"/executions/{execution.pk}/")
    panel = page.locator("#approval")
    expect(panel.locator("[data-approve]")).to_be_visible()
    expect(page.locator("[data-execution-detail][data-synced]")).to_be_attached()

    approval_reject(execution=execution, user=trader, reason="answered on the phone")  # another device answers first
    panel.locator("[data-approve]").click()
    expect(panel.locator("[data-approval-errors]")).to_contain_text("Conflict")
    assert Decision.objects.get(execution=execution).status == "rejected"
    assert wait_for_end(execution.pk).status == "completed"
