"""Approve: the parked decision's order is placed, and the run goes on with the remaining symbols."""

import pytest

from agents.models import ApprovalRequest
from execution.models import Decision, StepRun, WorkflowExecution
from tests.execution.approvals.conftest import enqueue, entry_order, new_execution, wait_for_end, wait_for_parked


@pytest.mark.django_db(transaction=True)
def test_each_symbol_waits_for_approval_and_approved_orders_are_placed(alice, alice_api, celery_worker):
    execution = enqueue(new_execution(alice, symbols=("AAPL", "MSFT")))
    aapl, msft = (Decision.objects.get(execution=execution, instrument__symbol=s) for s in ("AAPL", "MSFT"))

    parked = wait_for_parked(execution.pk, "AAPL")
    assert parked.progress["parked"]["step_id"] == "place_order"
    assert entry_order(aapl) is None, "nothing is ordered before a person approves"
    assert not StepRun.objects.filter(execution=execution, symbol="MSFT").exists()

    response = alice_api.post(f"/api/workflow-executions/{execution.pk}/approve/")
    assert response.status_code == 202, response.content
    assert response.json()["approval"]["status"] == "approved"

    wait_for_parked(execution.pk, "MSFT")
    assert entry_order(aapl) is not None
    assert alice_api.post(f"/api/workflow-executions/{execution.pk}/approve/").status_code == 202

    finished = wait_for_end(execution.pk)
    assert finished.status == WorkflowExecution.Status.COMPLETED, (finished.error, finished.results)
    for decision in (aapl, msft):
        decision.refresh_from_db()
        order = entry_order(decision)
        assert decision.status == Decision.Status.EXECUTED
        assert order.side == "BUY" and order.quantity == decision.quantity
    assert finished.results["orders_placed"] == 2 and finished.results["symbols_processed"] == 2
    assert finished.results["decisions_made"]["buy"] == 2
    assert "parked" not in finished.progress
    assert ApprovalRequest.objects.filter(execution=execution, status="approved", responder=alice).count() == 2
    runs = StepRun.objects.filter(execution=execution, step_id="analyze_daily")
    assert runs.count() == 2, "steps done before parking are not run again on resume"
