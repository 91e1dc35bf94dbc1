"""The AutoGen Multi-Agent template runs end to end on a real Celery worker with the offline analyst."""

import json
from decimal import Decimal

import pytest

from agents.decisions import parse_decision
from agents.models import AgentMessage, LLMCall
from agents.stances import FINAL_DECISION_MARKER
from execution.models import Decision, StepRun, WorkflowExecution
from execution.services import execution_create, execution_enqueue
from tests.execution.conftest import make_strategy, wait_for_execution, workflow_from_template


def _run(owner, autogen_config=None, symbols=("AAPL",)):
    workflow = workflow_from_template(owner, "autogen_multi_agent")
    params = {"autogen_config": autogen_config} if autogen_config else {}
    strategy = make_strategy(owner, workflow, symbols=symbols, params=params)
    execution = execution_create(owner=owner, strategy=strategy, params={"symbol_delay": 0})
    execution_enqueue(execution)
    return wait_for_execution(execution.pk)


@pytest.mark.django_db(transaction=True)
def test_the_team_debates_with_tools_and_the_executors_decision_becomes_the_decision(alice, offline, celery_worker):
    execution = _run(alice, {"agents": [{"name": "Fundamental", "enabled": True}]})

    assert execution.status == WorkflowExecution.Status.COMPLETED, (execution.error, execution.results)
    team_run = StepRun.objects.get(execution=execution, symbol="AAPL", step_id="agent_team")
    assert team_run.status == StepRun.Status.COMPLETED, team_run.error
    messages = list(AgentMessage.objects.filter(execution=execution, symbol="AAPL").order_by("id"))
    speakers = {message.agent_name for message in messages}
    assert {"TechnicalAnalyst", "RiskManager", "Fundamental", "Executor"} <= speakers
    assert "Sentiment" not in speakers

    risk_calls = [m for m in messages if m.agent_name == "RiskManager" and m.message_type == "tool_call"]
    risk_results = [m for m in messages if m.agent_name == "RiskManager" and m.message_type == "tool_result"]
    assert risk_calls and risk_results
    call = json.loads(risk_calls[0].content)[0]
    assert call["name"] in ("risk_calculator", "position_sizer")
    result = json.loads(risk_results[0].content)[0]["content"]
    assert "risk_amount" in result
    fundamentals = json.loads(next(m.content for m in messages if m.agent_name == "Fundamental"
                                   and m.message_type == "tool_result"))[0]["content"]
    assert fundamentals["available"] is False and "No fundamentals data provider" in fundamentals["message"]

    final = [m for m in messages if m.message_type == "decision"]
    assert len(final) == 1 and final[0].agent_name == "Executor" and final[0] is messages[-1]
    said = parse_decision(final[0].content.split(FINAL_DECISION_MARKER, 1)[1])
    decision = Decision.objects.get(execution=execution, instrument__symbol="AAPL")
    assert decision.type == said["decision"].lower()
    assert decision.current_price == said["current_price"]
    assert decision.target_price == said["target_price"] and decision.stop_loss == said["stop_loss"]
    assert decision.confidence == said["confidence"]
    assert decision.key_factors == said["key_factors"]
    assert team_run.output["decision_id"] == decision.pk and team_run.output["consensus"] is True

    calls = LLMCall.objects.filter(execution=execution, symbol="AAPL")
    assert set(calls.values_list("agent_name", flat=True)) == {"TechnicalAnalyst", "RiskManager", "Fundamental",
                                                               "Executor"}
    assert sorted(team_run.output["llm_call_ids"]) == sorted(calls.values_list("pk", flat=True))
    assert all(m.tokens > 0 for m in messages if m.message_type in ("text", "decision"))
    assert messages[0].round == 1 and final[0].round > 1
    risk_run = StepRun.objects.get(execution=execution, symbol="AAPL", step_id="validate_risk")
    assert risk_run.status == StepRun.Status.COMPLETED
    assert decision.confidence is None or Decimal("0") <= decision.confidence <= Decimal("1")
