"""GET /api/workflow-executions/{id}/agent-conversation/: the stored debate, owner-scoped."""

import pytest

from agents.models import AgentMessage
from execution.models import WorkflowExecution


@pytest.fixture
def debated(alice):
    execution = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL", "MSFT"])
    rows = [
        ("AAPL", 1, "TechnicalAnalyst", "text", "Uptrend.\nStance: BUY", 120),
        ("AAPL", 2, "RiskManager", "tool_call", '[{"name": "risk_calculator"}]', 40),
        ("AAPL", 2, "RiskManager", "tool_result", '[{"name": "risk_calculator", "content": {}}]', 0),
        ("AAPL", 3, "Executor", "decision", 'FINAL DECISION\n{"decision": "BUY"}', 200),
        ("MSFT", 1, "TechnicalAnalyst", "text", "Flat.\nStance: HOLD", 100),
    ]
    for symbol, turn, agent, kind, content, tokens in rows:
        AgentMessage.objects.create(execution=execution, symbol=symbol, round=turn, agent_name=agent,
                                    message_type=kind, content=content, tokens=tokens, model="offline-analyst")
    return execution


def _url(execution):
    return f"/api/workflow-executions/{execution.pk}/agent-conversation/"


def test_the_owner_reads_the_conversation_in_order_with_the_agreed_fields(alice_api, debated):
    response = alice_api.get(_url(debated), {"symbol": "aapl"})

    assert response.status_code == 200
    messages = response.json()["results"]
    assert [m["agent_name"] for m in messages] == ["TechnicalAnalyst", "RiskManager", "RiskManager", "Executor"]
    assert [m["message_type"] for m in messages] == ["text", "tool_call", "tool_result", "decision"]
    first = messages[0]
    assert {"agent_name", "message_type", "message_content", "round", "timestamp", "tokens_used", "model"} <= set(
        first)
    assert first["message_content"] == "Uptrend.\nStance: BUY" and first["tokens_used"] == 120
    assert first["round"] == 1 and first["model"] == "offline-analyst"
    assert alice_api.get(_url(debated)).json()["count"] == 5


def test_another_trader_gets_404(bob_api, debated):
    assert bob_api.get(_url(debated)).status_code == 404


def test_staff_read_any_conversation(staff_api, debated):
    assert staff_api.get(_url(debated)).json()["count"] == 5
