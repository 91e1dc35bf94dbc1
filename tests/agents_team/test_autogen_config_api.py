"""GET|PUT /api/strategies/{id}/autogen-config/: validated, stored in params, owner-scoped."""

import pytest

from workflows.models import Strategy

VALID = {
    "agents": [
        {"name": "Fundamental", "enabled": True, "temperature": 0.7, "max_iterations": 2},
        {"name": "RiskManager", "model": "gpt-4o-mini", "base_url": "http://llm.local:8000/v1",
         "system_prompt": "Be strict."},
    ],
    "max_rounds": 6,
    "human_approval": True,
    "code_execution": False,
}


@pytest.fixture
def strategy(alice):
    return Strategy.objects.create(owner=alice, name="Team", params={"risk_per_trade": 0.01})


def _url(strategy):
    return f"/api/strategies/{strategy.pk}/autogen-config/"


def _agents(body):
    return {agent["name"]: agent for agent in body["agents"]}


def test_it_shows_the_defaults_of_a_strategy_without_config(alice_api, strategy):
    response = alice_api.get(_url(strategy))

    assert response.status_code == 200
    agents = _agents(response.json())
    assert list(agents) == ["TechnicalAnalyst", "RiskManager", "Fundamental", "Sentiment", "Executor"]
    assert agents["Executor"]["enabled"] and agents["Executor"]["required"]
    assert not agents["Sentiment"]["enabled"]
    assert "risk_calculator" in agents["RiskManager"]["tools"]
    assert response.json()["max_rounds"] == 10 and response.json()["human_approval"] is False


def test_it_stores_a_valid_config_in_the_strategy_params(alice_api, strategy):
    response = alice_api.put(_url(strategy), VALID, format="json")

    assert response.status_code == 200, response.json()
    strategy.refresh_from_db()
    assert strategy.params["autogen_config"] == VALID and strategy.params["risk_per_trade"] == 0.01
    agents = _agents(alice_api.get(_url(strategy)).json())
    assert agents["Fundamental"]["enabled"] and agents["Fundamental"]["temperature"] == 0.7
    assert agents["RiskManager"]["system_prompt"] == "Be strict."
    assert agents["RiskManager"]["base_url"] == "http://llm.local:8000/v1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"agents": [{"name": "Executor", "enabled": False}]}, "agents.Executor.enabled"),
        ({"agents": [{"name": "RiskManager", "enabled": False}]}, "agents.RiskManager.enabled"),
        ({"agents": [{"name": "TechnicalAnalyst", "temperature": 2.5}]}, "agents.TechnicalAnalyst.temperature"),
        ({"agents": [{"name": "Sentiment", "max_iterations": 0}]}, "agents.Sentiment.max_iterations"),
        ({"agents": [{"name": "Sentiment", "base_url": "ftp://x"}]}, "agents.Sentiment.base_url"),
        ({"agents": [{"name": "Astrologer"}]}, "agents[0].name"),
        ({"agents": [{"name": "Sentiment"}, {"name": "Sentiment"}]}, "agents"),
        ({"max_rounds": 0}, "max_rounds"),
        ({"max_rounds": "ten"}, "max_rounds"),
        ({"human_approval": "yes"}, "human_approval"),
        ({"code_execution": 1}, "code_execution"),
        ({"rounds": 3}, "rounds"),
    ],
)
def test_it_refuses_an_invalid_config_with_field_errors_and_changes_nothing(alice_api, strategy, body, field):
    response = alice_api.put(_url(strategy), body, format="json")

    assert response.status_code == 400
    assert field in response.json(), response.json()
    strategy.refresh_from_db()
    assert "autogen_config" not in strategy.params


def test_another_trader_gets_404(bob_api, strategy):
    assert bob_api.get(_url(strategy)).status_code == 404
    assert bob_api.put(_url(strategy), VALID, format="json").status_code == 404
    strategy.refresh_from_db()
    assert "autogen_config" not in strategy.params


def test_staff_can_read_and_change_any_strategys_config(staff_api, strategy):
    assert staff_api.get(_url(strategy)).status_code == 200
    assert staff_api.put(_url(strategy), {"max_rounds": 4}, format="json").status_code == 200
    strategy.refresh_from_db()
    assert strategy.params["autogen_config"] == {"max_rounds": 4}


def test_it_requires_login(api_client, strategy):
    assert api_client.get(_url(strategy)).status_code in (401, 403)
