"""The debate's rules, run directly with the offline analyst: optional agents, failures, max rounds."""

import json

import pytest

from agents.cancels import CallCancelled
from agents.models import AgentMessage, LLMCall, ModelProvider
from agents.team import NO_CONSENSUS, TeamFailed, run_team
from agents.team_config import team_settings
from tests.agents.team.conftest import BEARISH, desk, team_request

# A provider at an OpenAI-compatible endpoint nobody listens on: every call fails with a connection error.
DEAD_ENDPOINT = "http://127.0.0.1:9/v1"


@pytest.fixture
def dead_provider():
    return ModelProvider.objects.create(name="dead", base_url=DEAD_ENDPOINT, allowed_models=["gpt-4o"])


def _conversation(execution):
    return list(AgentMessage.objects.filter(execution=execution).order_by("id"))


@pytest.mark.django_db(transaction=True)
def test_enabling_the_optional_agents_adds_their_voices_and_tool_calls(offline, execution, alice):
    from execution.models import WorkflowExecution

    run_team(team_request(execution), team_settings({}), desk=desk())
    with_optional = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"])
    everyone = {"agents": [{"name": "Fundamental", "enabled": True}, {"name": "Sentiment", "enabled": True}]}
    run_team(team_request(with_optional), team_settings(everyone), desk=desk())

    core = {m.agent_name for m in _conversation(execution)}
    full = _conversation(with_optional)
    assert core == {"TechnicalAnalyst", "RiskManager", "Executor"}
    assert {m.agent_name for m in full} == core | {"Fundamental", "Sentiment"}
    tools_called = {json.loads(m.content)[0]["name"] for m in full if m.message_type == "tool_call"}
    assert {"fundamentals", "news_sentiment"} <= tools_called
    assert len(full) > len(_conversation(execution))


@pytest.mark.django_db(transaction=True)
def test_an_agent_whose_model_keeps_failing_is_left_out_and_the_rest_decide(offline, execution, dead_provider):
    offline.LLM_PROVIDER = "openai"
    working = {"model": "offline-analyst"}
    config = {"agents": [
        {"name": "TechnicalAnalyst", **working},
        {"name": "RiskManager", "provider": "dead", "model": "gpt-4o"},
        {"name": "Executor", **working},
    ]}

    outcome = run_team(team_request(execution), team_settings(config), desk=desk())

    assert set(outcome.left_out) == {"RiskManager"}
    conversation = _conversation(execution)
    left = [m for m in conversation if m.agent_name == "RiskManager"]
    assert [m.message_type for m in left] == ["error"] and "leaves the debate" in left[0].content
    failed_attempts = LLMCall.objects.filter(execution=execution, agent_name="RiskManager")
    # Retried until the retry budget (LLM_RETRY_BUDGET_SECONDS, short in tests) was spent, then left out.
    assert failed_attempts.count() > 1 and all(call.error for call in failed_attempts)
    assert conversation[-1].agent_name == "Executor" and conversation[-1].message_type == "decision"
    assert outcome.consensus and outcome.decision["decision"] in ("BUY", "SELL", "HOLD")


@pytest.mark.django_db(transaction=True)
def test_a_cancel_seen_while_an_agent_waits_to_retry_stops_the_debate_instead_of_leaving_it_out(
    offline, execution, dead_provider
):
    offline.LLM_PROVIDER = "openai"
    working = {"model": "offline-analyst"}
    config = {"agents": [
        {"name": "TechnicalAnalyst", **working},
        {"name": "RiskManager", "provider": "dead", "model": "gpt-4o"},
        {"name": "Executor", **working},
    ]}
    type(execution).objects.filter(pk=execution.pk).update(cancel_requested=True)

    with pytest.raises(CallCancelled):
        run_team(team_request(execution), team_settings(config), desk=desk())

    assert LLMCall.objects.filter(execution=execution, agent_name="RiskManager").count() == 1  # no retry sent
    assert not [m for m in _conversation(execution) if "leaves the debate" in m.content]
    assert not LLMCall.objects.filter(execution=execution, agent_name="Executor").exists()


@pytest.mark.django_db(transaction=True)
def test_the_run_aborts_when_the_executor_cannot_decide(offline, execution, dead_provider):
    offline.LLM_PROVIDER = "openai"
    config = {"provider": "dead", "model": "gpt-4o"}

    with pytest.raises(TeamFailed, match="Executor|debate"):
        run_team(team_request(execution), team_settings(config), desk=desk())

    assert set(LLMCall.objects.filter(execution=execution).values_list("agent_name", flat=True)) == {
        "TechnicalAnalyst", "RiskManager", "Executor"}


@pytest.mark.django_db(transaction=True)
def test_a_debate_that_reaches_max_rounds_without_a_decision_holds(offline, execution):
    outcome = run_team(team_request(execution, {"daily": BEARISH}, price="90"), team_settings({"max_rounds": 2}),
                       desk=desk())

    assert not outcome.consensus
    assert outcome.decision["decision"] == "HOLD" and outcome.decision["target_price"] is None
    assert outcome.decision["key_factors"][0] == NO_CONSENSUS
    assert "max_rounds 2" in outcome.decision["analysis"]
    conversation = _conversation(execution)
    assert "Executor" not in {m.agent_name for m in conversation}
    assert conversation[-1].message_type == "decision" and NO_CONSENSUS in conversation[-1].content


@pytest.mark.django_db(transaction=True)
def test_an_analyst_who_fails_while_the_others_speak_is_left_out_in_its_place(offline, execution, dead_provider):
    offline.LLM_PROVIDER = "openai"
    working = {"model": "offline-analyst"}
    config = {"agents": [
        {"name": "TechnicalAnalyst", **working},
        {"name": "Fundamental", "enabled": True, "provider": "dead", "model": "gpt-4o"},
        {"name": "Sentiment", "enabled": True, **working},
        {"name": "RiskManager", **working},
        {"name": "Executor", **working},
    ]}

    outcome = run_team(team_request(execution), team_settings(config), desk=desk())

    assert set(outcome.left_out) == {"Fundamental"}
    conversation = _conversation(execution)
    first_turn = [(m.agent_name, m.message_type) for m in conversation if m.round == 1]
    assert first_turn == [("TechnicalAnalyst", "text"), ("Fundamental", "error"), ("Sentiment", "tool_call"),
                          ("Sentiment", "tool_result"), ("Sentiment", "text")]
    failed_attempts = LLMCall.objects.filter(execution=execution, agent_name="Fundamental")
    # Retried until the retry budget (LLM_RETRY_BUDGET_SECONDS, short in tests) was spent, then left out.
    assert failed_attempts.count() > 1 and all(call.error for call in failed_attempts)
    assert conversation[-1].agent_name == "Executor" and conversation[-1].message_type == "decision"
