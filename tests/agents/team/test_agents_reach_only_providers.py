"""A trader cannot aim agents at a server of their own: the installation's model key goes to its provider only.

Two fake OpenAI-compatible servers: the installation's provider (LLM_BASE_URL, with the key) and
the trader's. Whatever a trader writes, or whatever an old config still holds, the trader's server
never receives a request, let alone the key.
"""

import pytest
from django.core.exceptions import ValidationError

from agents.models import ModelProvider
from agents.providers import encrypt_api_key
from execution.models import StepRun
from execution.runner import run_execution
from execution.services import execution_create
from tests.execution.conftest import make_strategy, workflow_from_template
from tests.support.fake_openai import fake_openai_server
from workflows.models import Strategy, WorkflowVersion

INSTALLATION_KEY = "sk-installation-key"
AGENTS = ("TechnicalAnalyst", "RiskManager", "Executor")


@pytest.fixture
def servers(settings):
    with fake_openai_server() as provider, fake_openai_server() as traders:
        settings.LLM_PROVIDER = "openai"
        settings.LLM_BASE_URL = provider.url
        settings.LLM_API_KEY = INSTALLATION_KEY
        settings.LLM_TIMEOUT = 5.0
        settings.LLM_RETRY_BASE_SECONDS = 0
        settings.TASK_MAX_RETRIES = 0
        settings.CHART_WIDTH, settings.CHART_HEIGHT = 480, 320
        yield provider, traders


def carrying_the_key(server) -> list[dict]:
    return [request for request in server.requests if INSTALLATION_KEY in request["headers"].get("authorization", "")]


def test_a_trader_who_puts_a_url_in_the_config_is_refused(alice, alice_api, servers):
    _, traders = servers
    strategy = Strategy.objects.create(owner=alice, name="Mine")
    body = {"agents": [{"name": name, "base_url": traders.url} for name in AGENTS]}

    response = alice_api.put(f"/api/strategies/{strategy.pk}/autogen-config/", body, format="json")

    assert response.status_code == 400
    assert "pick a provider by name" in response.json()["agents.Executor.base_url"][0]
    strategy.refresh_from_db()
    assert "autogen_config" not in strategy.params
    assert traders.requests == []


def _run(owner, *, strategy_config=None, step_agents=None):
    workflow = workflow_from_template(owner, "autogen_multi_agent")
    if step_agents is not None:
        version = workflow.current_version
        steps = [
            {**step, "config": {**step["config"], "agents": step_agents}} if step["type"] == "agent_team" else step
            for step in version.steps
        ]
        WorkflowVersion.objects.filter(pk=version.pk).update(steps=steps)  # as an old version could hold
    strategy = make_strategy(owner, workflow, symbols=["AAPL"])
    if strategy_config is not None:
        Strategy.objects.filter(pk=strategy.pk).update(params={"autogen_config": strategy_config})
    execution = execution_create(owner=owner, strategy=strategy, dry_run=True, params={"symbol_delay": 0})
    run_execution(execution.pk)
    return StepRun.objects.get(execution=execution, symbol="AAPL", step_id="agent_team")


@pytest.mark.django_db(transaction=True)
def test_a_url_stored_in_a_strategys_config_is_refused_at_run_time_and_never_called(alice, servers):
    provider, traders = servers
    legacy = {"agents": [{"name": name, "model": "gpt-4o", "base_url": traders.url} for name in AGENTS]}

    team_run = _run(alice, strategy_config=legacy)

    assert team_run.status == StepRun.Status.FAILED
    assert "pick a provider by name" in team_run.error
    assert traders.requests == []
    assert carrying_the_key(provider) == []  # the team never started


@pytest.mark.django_db(transaction=True)
def test_an_old_workflow_version_whose_team_names_a_url_is_refused_at_start(alice, servers):
    _, traders = servers
    step_agents = [{"name": name, "enabled": True, "base_url": traders.url} for name in AGENTS]

    with pytest.raises(ValidationError, match="pick a provider by name"):
        _run(alice, step_agents=step_agents)

    assert traders.requests == []


@pytest.mark.django_db(transaction=True)
def test_each_providers_key_goes_to_that_provider_only(alice, servers):
    provider, traders = servers
    ModelProvider.objects.create(
        name="lab", base_url=traders.url, api_key_encrypted=encrypt_api_key("sk-lab-key"), allowed_models=["llama3"]
    )
    config = {"agents": [{"name": "RiskManager", "provider": "lab", "model": "llama3"}], "model": "gpt-4o"}

    _run(alice, strategy_config=config)

    assert traders.requests, "the RiskManager's turns went to its provider"
    assert {request["headers"]["authorization"] for request in traders.requests} == {"Bearer sk-lab-key"}
    assert {request["body"]["model"] for request in traders.requests} == {"llama3"}
    assert carrying_the_key(provider), "the other agents ran on the installation's provider with its key"
    assert {request["body"]["model"] for request in provider.requests} == {"gpt-4o"}
