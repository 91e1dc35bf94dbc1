"""Reject: no order, the decision is refused with the trader's reason, and the run finishes."""

import pytest

from agents.models import ApprovalRequest
from execution.models import Decision, StepRun, WorkflowExecution
from tests.execution.approvals.conftest import entry_order, park_here, wait_for_end


@pytest.mark.django_db(transaction=True)
def test_a_rejected_decision_places_no_order_and_the_run_finishes(alice, alice_api, celery_worker):
    execution = park_here(alice)
    decision = Decision.objects.get(execution=execution)

    response = alice_api.post(f"/api/workflow-executions/{execution.pk}/reject/", {"reason": "earnings tomorrow"})

    assert response.status_code == 202, response.content
    finished = wait_for_end(execution.pk)
    assert finished.status == WorkflowExecution.Status.COMPLETED, (finished.error, finished.results)
    decision.refresh_from_db()
    assert decision.status == Decision.Status.REJECTED
    assert decision.rejection_reasons == ["Rejected by alice: earnings tomorrow"]
    assert entry_order(decision) is None and finished.results["orders_placed"] == 0
    order_run = StepRun.objects.get(execution=execution, step_id="place_order")
    assert order_run.status == StepRun.Status.SKIPPED
    assert order_run.output["reason"] == "Decision rejected at approval: Rejected by alice: earnings tomorrow"
    approval = ApprovalRequest.objects.get(execution=execution)
    assert (approval.status, approval.responder) == ("rejected", alice)
    assert approval.response["reason"] == "Rejected by alice: earnings tomorrow"
