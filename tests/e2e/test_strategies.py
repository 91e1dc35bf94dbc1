"""A trader creates a strategy: picks a workflow, overrides a parameter, lists symbols, asks for approval."""

import re

import pytest
from playwright.sync_api import expect

from broker.models import Instrument
from tests.e2e.conftest import save_screenshots
from workflows.models import Strategy
from workflows.services import workflow_create
from workflows.templates import TEMPLATES_BY_TYPE

pytestmark = pytest.mark.e2e


def test_a_trader_creates_a_strategy_on_a_workflow(logged_in_page, trader):
    template = TEMPLATES_BY_TYPE["two_indicator"]
    workflow = workflow_create(owner=trader, name="Daily and weekly", type="two_indicator",
                               steps=template["steps"], parameters=template["parameters"])
    Instrument.objects.create(symbol="AAPL", conid=265598, name="Apple Inc")
    page = logged_in_page
    page.goto("/strategies/")
    expect(page.locator("[data-empty-state]")).to_contain_text("No strategies yet")
    page.locator("[data-empty-state]").get_by_role("link", name="Create a strategy").click()

    page.get_by_label("Name").fill("Mega caps")
    picker = page.locator("[data-workflow-picker]")
    picker.click()
    option = page.locator(f"[data-workflow-option='{workflow.pk}']")
    expect(option.locator("[data-type='two_indicator']")).to_have_text("2-Indicator Multi-Timeframe")
    option.click()
    expect(picker).to_contain_text("Daily and weekly")

    # Overrides: marked as such, and a reset brings back the workflow's default.
    risk = page.locator("#override-risk_per_trade")
    expect(risk).to_have_attribute("placeholder", "Default: 0.01")
    risk.fill("lots")
    expect(page.locator("[data-parameter='risk_per_trade'] [data-overridden]")).to_be_visible()
    page.locator("#override-order_type").select_option("MKT")
    expect(page.locator("[data-parameter='order_type'] [data-overridden]")).to_be_visible()
    page.locator("[data-reset='order_type']").click()
    expect(page.locator("[data-parameter='order_type'] [data-overridden]")).to_be_hidden()

    symbols = page.locator("#symbol-input")
    symbols.fill("aapl")
    symbols.press("Enter")
    symbols.fill("MSFT")
    symbols.press(",")
    expect(page.locator("[data-symbols] [data-symbol]")).to_have_count(2)
    page.get_by_role("checkbox", name=re.compile("^Human approval")).check()

    # The server refuses the bad value; the page keeps everything typed and says which field is wrong.
    page.locator("[data-save-strategy]").click()
    error = page.locator("[data-parameter='risk_per_trade'] [data-parameter-error]")
    expect(error).to_contain_text("must be a number, got 'lots'")
    assert not Strategy.objects.exists()
    expect(page.locator("[data-symbols] [data-symbol]")).to_have_count(2)
    expect(picker).to_contain_text("Daily and weekly")
    expect(page.get_by_role("checkbox", name=re.compile("^Human approval"))).to_be_checked()

    page.locator("#override-risk_per_trade").fill("0.02")
    expect(error).to_be_hidden()
    page.evaluate("document.querySelectorAll('#toasts > *').forEach((toast) => toast.remove()); window.scrollTo(0, 0)")
    save_screenshots(page, "strategy-form")
    page.locator("[data-save-strategy]").click()

    expect(page).to_have_url(re.compile(r"/strategies/$"))
    expect(page.locator("#toasts")).to_contain_text("Strategy “Mega caps” created.")
    strategy = Strategy.objects.get(owner=trader)
    row = page.locator(f"[data-strategy='{strategy.pk}']")
    expect(row).to_contain_text("Daily and weekly")
    expect(row).to_contain_text("Human approval")
    expect(row).to_contain_text("Never run")
    assert strategy.workflow == workflow
    assert strategy.params == {"risk_per_trade": 0.02}
    assert sorted(strategy.symbols) == ["AAPL", "MSFT"]
    assert strategy.human_approval and not strategy.allow_live
    save_screenshots(page, "strategies")
    assert page.problems.messages == [], page.problems.messages


def test_a_trader_deletes_a_strategy_after_confirming(logged_in_page, trader):
    from workflows.services import strategy_create

    strategy = strategy_create(owner=trader, name="Old idea")
    page = logged_in_page
    page.goto(f"/strategies/{strategy.pk}/")
    page.locator("[data-confirm-open='delete-strategy']").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Delete this strategy?")
    page.locator("[data-confirm='delete-strategy']").click()
    expect(page).to_have_url(re.compile(r"/strategies/$"))
    expect(page.locator("#toasts")).to_contain_text("Strategy “Old idea” deleted.")
    assert not Strategy.objects.exists()
    assert page.problems.messages == [], page.problems.messages
