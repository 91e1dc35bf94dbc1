"""GET …/approval/ carries what a trader needs: the decision, its risk arithmetic, the charts, the agents' talk."""

import pytest

from agents.models import AgentMessage
from broker.models import Chart
from tests.execution.approvals.conftest import new_execution, park_here


@pytest.mark.django_db(transaction=True)
def test_the_approval_shows_decision_risk_charts_and_transcript(alice, alice_api):
    execution = park_here(alice)
    for position, (agent, text) in enumerate([("TechnicalAnalyst", "Uptrend intact."), ("Executor", "BUY.")]):
        AgentMessage.objects.create(execution=execution, symbol="AAPL", round=position, agent_name=agent, content=text)

    response = alice_api.get(f"/api/workflow-executions/{execution.pk}/approval/")

    assert response.status_code == 200
    body = response.json()
    assert body["execution_status"] == "awaiting_approval" and body["symbol"] == "AAPL"
    assert body["approval"]["status"] == "pending" and 0 < body["approval"]["seconds_left"] <= 300
    decision = body["decision"]
    assert decision["type"] == "buy" and decision["status"] == "approved"
    assert decision["target_price"] and decision["stop_loss"] and decision["confidence"] and decision["analysis_text"]
    risk = body["risk"]
    assert risk["approved"] is True and risk["quantity"] >= 1 and risk["r_coefficient"] and risk["equity"]
    chart = Chart.objects.get(instrument__symbol="AAPL")
    assert [item["chart_url"].split("?")[0] for item in body["charts"]] == [f"http://testserver{chart.image_url()}"]
    assert [item["message_content"] for item in body["transcript"]] == ["Uptrend intact.", "BUY."]


@pytest.mark.django_db
def test_it_answers_404_when_no_approval_was_asked(alice, alice_api):
    execution = new_execution(alice)

    response = alice_api.get(f"/api/workflow-executions/{execution.pk}/approval/")

    assert response.status_code == 404
