"""A trader sets up a strategy's AutoGen team on the strategy form: toggles, an agent's dialog, checks, saving."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import save_screenshots
from tests.execution.conftest import make_strategy, workflow_from_template
from workflows.models import Strategy

pytestmark = pytest.mark.e2e


def stored_team(strategy: Strategy) -> dict:
    strategy.refresh_from_db()
    return strategy.params.get("autogen_config") or {}


def agent_settings(config: dict, name: str) -> dict:
    return next(agent for agent in config["agents"] if agent["name"] == name)


def test_a_trader_configures_the_agent_team_and_saves_it_with_the_strategy(logged_in_page, trader):
    page = logged_in_page
    strategy = make_strategy(trader, workflow_from_template(trader, "autogen_multi_agent"), name="Team strategy")

    page.goto(f"/strategies/{strategy.pk}/")
    section = page.locator("[data-autogen-config]")
    agents = section.locator("[data-autogen-agents]")
    expect(agents.locator("[data-agent]")).to_have_count(5)
    for required in ("TechnicalAnalyst", "RiskManager", "Executor"):
        toggle = section.locator(f"[data-agent-toggle='{required}']")
        expect(toggle).to_be_disabled()
        expect(toggle).to_have_attribute("aria-checked", "true")
    sentiment = section.locator("[data-agent-toggle='Sentiment']")
    expect(sentiment).to_have_attribute("aria-checked", "false")
    sentiment.click()
    expect(sentiment).to_have_attribute("aria-checked", "true")
    expect(section.locator("[data-autogen-dirty]")).to_be_visible()

    # One agent's dialog: an out-of-range setting is caught before anything is sent.
    section.locator("[data-configure-agent='RiskManager']").click()
    dialog = section.locator("[data-agent-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-agent-prompt]")).to_have_value(re.compile(r"^You are the RiskManager"))
    dialog.locator("[data-agent-temperature]").fill("1.4")
    expect(dialog.locator("[data-agent-provider] option")).to_contain_text(["Team provider", "default", "offline"])
    dialog.locator("[data-agent-provider]").select_option("default")
    dialog.locator("[data-agent-model]").select_option("gpt-4o-mini")
    dialog.locator("[data-agent-iterations]").fill("12")
    dialog.locator("[data-agent-done]").click()
    section.locator("[data-autogen-max-rounds]").fill("8")
    section.locator("[data-autogen-approval]").check()
    section.locator("[data-save-autogen]").click()
    expect(section.locator("[data-agent='RiskManager'] [data-agent-error]")).to_contain_text("from 1 to 10")
    assert stored_team(strategy) == {}

    section.locator("[data-configure-agent='RiskManager']").click()
    dialog.locator("[data-agent-iterations]").fill("4")
    dialog.locator("[data-agent-done]").click()
    expect(section.locator("[data-agent-error]")).to_have_count(0)
    page.evaluate("document.querySelectorAll('#toasts > *').forEach((toast) => toast.remove()); window.scrollTo(0, 0)")
    save_screenshots(page, "strategy-autogen")

    # The strategy form's own Save button saves the team first.
    page.locator("[data-save-strategy]").click()
    page.wait_for_url("**/strategies/")
    team = stored_team(strategy)
    risk_manager = agent_settings(team, "RiskManager")
    assert risk_manager["temperature"] == 1.4
    assert (risk_manager["provider"], risk_manager["model"], risk_manager["max_iterations"]) == (
        "default", "gpt-4o-mini", 4
    )
    assert agent_settings(team, "Sentiment")["enabled"] is True
    assert (team["max_rounds"], team["human_approval"]) == (8, True)
    assert page.problems.messages == []


def test_the_servers_refusal_is_shown_at_the_field(logged_in_page, trader):
    page = logged_in_page
    strategy = make_strategy(trader, workflow_from_template(trader, "autogen_multi_agent"), name="Team strategy")
    page.goto(f"/strategies/{strategy.pk}/")
    section = page.locator("[data-autogen-config]")
    expect(section.locator("[data-autogen-agents] [data-agent]")).to_have_count(5)
    # The page's own check passes a model name the server's rules refuse only as too long (101 characters).
    page.evaluate(
        """() => {
          const component = Alpine.$data(document.querySelector('[data-autogen-config]'));
          component.validate = () => true;
          component.team.model = 'm'.repeat(101);
        }"""
    )
    section.locator("[data-save-autogen]").click()
    expect(section).to_contain_text("at most 100 characters")
    assert stored_team(strategy) == {}
