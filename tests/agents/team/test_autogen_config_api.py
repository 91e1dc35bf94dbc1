"""GET|PUT /api/strategies/{id}/autogen-config/: validated, stored in params, owner-scoped."""

import pytest

from workflows.models import Strategy

VALID = {
    "agents": [
        {"name": "Fundamental", "enabled": True, "temperature": 0.7, "max_iterations": 2},
        {"name": "RiskManager", "provider": "default", "model": "gpt-4o-mini", "system_prompt": "Be strict."},
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
    assert (agents["RiskManager"]["provider"], agents["RiskManager"]["model"]) == ("default", "gpt-4o-mini")


def test_what_get_shows_can_be_put_back_unchanged(alice_api, strategy):
    alice_api.put(_url(strategy), VALID, format="json")
    shown = alice_api.get(_url(strategy)).json()

    response = alice_api.put(_url(strategy), shown, format="json")

    assert response.status_code == 200, response.json()
    assert response.json() == shown
    assert alice_api.get(_url(strategy)).json() == shown
    strategy.refresh_from_db()
    stored = strategy.params["autogen_config"]["agents"]
    assert not any("required" in agent or "tools" in agent for agent in stored), "read-only fields are not stored"


def test_read_only_fields_are_ignored_on_write(alice_api, strategy):
    body = {"agents": [{"name": "Sentiment", "enabled": True, "required": True, "tools": ["run_python"]}]}

    assert alice_api.put(_url(strategy), body, format="json").status_code == 200

    sentiment = _agents(alice_api.get(_url(strategy)).json())["Sentiment"]
    assert sentiment["enabled"] and not sentiment["required"] and "run_python" not in sentiment["tools"]


@pytest.mark.parametrize("where", ["agent", "team"])
def test_a_url_is_refused_with_a_message_to_pick_a_provider(alice_api, strategy, where):
    url = "http://trader.example.com/v1"
    body = {"agents": [{"name": "RiskManager", "base_url": url}]} if where == "agent" else {"base_url": url}

    response = alice_api.put(_url(strategy), body, format="json")

    assert response.status_code == 400
    field = "agents.RiskManager.base_url" if where == "agent" else "base_url"
    assert "pick a provider by name" in response.json()[field][0]
    strategy.refresh_from_db()
    assert "autogen_config" not in strategy.params


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"provider": "nowhere"}, "provider", "unknown provider 'nowhere'"),
        ({"agents": [{"name": "RiskManager", "provider": "default", "model": "gpt-9"}]},
         "agents.RiskManager.provider", "does not offer model 'gpt-9'"),
        ({"agents": [{"name": "RiskManager", "model": "gpt-9"}]}, "agents.RiskManager.model", "no provider offers"),
    ],
)
def test_a_provider_or_model_not_offered_is_refused(alice_api, strategy, body, field, message):
    response = alice_api.put(_url(strategy), body, format="json")

    assert response.status_code == 400
    assert message in response.json()[field][0], response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"agents": [{"name": "Executor", "enabled": False}]}, "agents.Executor.enabled"),
        ({"agents": [{"name": "RiskManager", "enabled": False}]}, "agents.RiskManager.enabled"),
        ({"agents": [{"name": "TechnicalAnalyst", "temperature": 2.5}]}, "agents.TechnicalAnalyst.temperature"),
        ({"agents": [{"name": "Sentiment", "max_iterations": 0}]}, "agents.Sentiment.max_iterations"),
        ({"agents": [{"name": "Sentiment", "provider": 3}]}, "agents.Sentiment.provider"),
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
