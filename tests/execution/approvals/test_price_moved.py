"""A stale approval is a different trade: when the price left the proposed entry too far, approving expires it."""

from decimal import Decimal

import pytest

from agents.models import ApprovalRequest
from execution.models import Decision, StepRun, WorkflowExecution
from tests.execution.approvals.conftest import entry_order, live_price, park_here, wait_for_end


@pytest.mark.django_db(transaction=True)
def test_approving_after_the_price_moved_too_far_expires_the_request(
    alice, alice_api, approval_settings, celery_worker
):
    approval_settings.APPROVAL_MAX_PRICE_MOVE_PCT = 2.0
    proposed_entry = (live_price("AAPL") * Decimal("1.10")).quantize(Decimal("0.01"))  # the market fell ~9 % since
    execution = park_here(alice, entry=proposed_entry)

    response = alice_api.post(f"/api/workflow-executions/{execution.pk}/approve/")

    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "price moved" in detail and str(proposed_entry) in detail and "more than 2.0%" in detail
    approval = ApprovalRequest.objects.get(execution=execution)
    assert approval.status == "expired" and approval.response["reason"] == detail
    decision = Decision.objects.get(execution=execution)
    assert decision.status == Decision.Status.REJECTED and decision.rejection_reasons == [detail]
    finished = wait_for_end(execution.pk)
    assert finished.status == WorkflowExecution.Status.COMPLETED
    assert entry_order(decision) is None and finished.results["orders_placed"] == 0
    order_run = StepRun.objects.get(execution=execution, step_id="place_order")
    assert order_run.output["reason"] == f"Approval expired: {detail}"
