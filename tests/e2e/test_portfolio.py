"""The portfolio page draws its P&L charts and loads positions and risk from the broker."""

import pytest
from playwright.sync_api import expect

from tests.broker.pages.browser import drawn_canvases, seed_portfolio
from tests.e2e.conftest import save_screenshots

pytestmark = pytest.mark.e2e


def test_a_trader_sees_positions_risk_and_drawn_pnl_charts(logged_in_page, trader, settings):
    settings.BROKER_ADAPTER = "simulated"
    positions = seed_portfolio(trader)
    page = logged_in_page
    page.goto("/portfolio/")

    for position in positions:
        expect(page.locator(f"#positions [data-position='{position.pk}']")).to_contain_text(position.instrument.symbol)
    expect(page.locator("#risk-panel")).to_contain_text("Exposure")
    expect(page.locator("#performance [data-metric='Profit factor']")).not_to_contain_text("—")
    for chart in ("pnl-over-time", "pnl-by-strategy"):
        canvas = page.locator(f"canvas[data-stat-chart='{chart}']")
        expect(canvas).to_be_visible()
        page.wait_for_function(
            "(name) => window.Chart && Chart.getChart(document.querySelector(`canvas[data-stat-chart='${name}']`))",
            arg=chart,
        )
        page.wait_for_timeout(400)  # the chart's short entry animation
        assert drawn_canvases(canvas) == 1, chart
    assert page.problems.messages == []
    save_screenshots(page, "portfolio")
