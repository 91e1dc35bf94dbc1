"""The charts page draws candlesticks, toggles indicators and remembers them for the session."""

import pytest
from playwright.sync_api import expect

from broker.instruments import qualify_symbol
from tests.broker.pages.browser import drawn_canvases
from tests.e2e.conftest import save_screenshots

pytestmark = pytest.mark.e2e


def test_a_trader_sees_candles_and_toggles_an_indicator_for_the_session(logged_in_page, settings):
    settings.BROKER_ADAPTER = "simulated"
    qualify_symbol("KO")
    page = logged_in_page
    page.goto("/charts/?symbol=KO")
    main = page.locator("[data-candles][data-main]")
    expect(main).to_have_attribute("data-ready", "")
    expect(page.locator("[data-candles][data-ready]")).to_have_count(3)  # main, daily and weekly
    assert drawn_canvases(main.locator("canvas")) > 0
    expect(main).to_have_attribute("data-panes", "1")
    expect(page.locator("[data-chart-legend]")).to_contain_text("SMA 20")
    series = int(main.get_attribute("data-series"))

    page.locator("[data-indicator-toggles] label", has_text="RSI").click()
    expect(main).to_have_attribute("data-panes", "2")
    expect(page.locator("[data-chart-legend]")).to_contain_text("RSI 14")
    assert int(main.get_attribute("data-series")) == series + 1

    page.reload()
    expect(main).to_have_attribute("data-ready", "")
    expect(page.locator("[data-indicator='rsi']")).to_be_checked()
    expect(main).to_have_attribute("data-panes", "2")
    assert page.problems.messages == []
    save_screenshots(page, "charts")
