"""The analytics page draws its charts and highlights the best workflow per metric."""

import pytest
from playwright.sync_api import expect

from tests.broker.pages.browser import drawn_canvases
from tests.e2e.conftest import save_screenshots
from tests.support.seed import busy_trader

pytestmark = pytest.mark.e2e


def test_a_trader_sees_drawn_charts_and_the_workflow_comparison(logged_in_page, trader):
    busy_trader(trader)
    page = logged_in_page
    page.goto("/analytics/")
    for chart in ("executions-over-time", "decision-breakdown", "success-rate"):
        page.wait_for_function(
            "(name) => window.Chart && Chart.getChart(document.querySelector(`canvas[data-stat-chart='${name}']`))",
            arg=chart,
        )
    page.wait_for_timeout(400)  # the charts' short entry animation
    assert drawn_canvases(page.locator("canvas[data-stat-chart]")) == 3
    expect(page.locator("#workflow-comparison [data-best]").first).to_be_visible()
    assert page.problems.messages == []
    save_screenshots(page, "analytics")

    page.locator("[data-workflow-picker] label", has_text="Momentum workflow").click()
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#workflow-comparison tbody tr")).to_have_count(1)
    expect(page.locator("#workflow-comparison tbody")).to_contain_text("Momentum workflow")
