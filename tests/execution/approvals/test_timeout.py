"""Timeout: an unanswered approval expires at its deadline to HOLD with no order, and the run finishes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import ApprovalRequest
from execution.approvals import expire_overdue_approvals
from execution.models import Decision, StepRun, WorkflowExecution
from tests.execution.approvals.conftest import entry_order, park_here, wait_for_end


def _check_expired_without_order(execution):
    finished = wait_for_end(execution.pk)
    assert finished.status == WorkflowExecution.Status.COMPLETED, (finished.error, finished.results)
    decision = Decision.objects.get(execution=execution)
    assert decision.status == Decision.Status.REJECTED and decision.rejection_reasons == ["Approval expired"]
    assert entry_order(decision) is None and finished.results["orders_placed"] == 0
    order_run = StepRun.objects.get(execution=execution, step_id="place_order")
    assert (order_run.status, order_run.output["reason"]) == ("skipped", "Approval expired: HOLD, no order")
    approval = ApprovalRequest.objects.get(execution=execution)
    assert approval.status == "expired" and approval.responder is None


@pytest.mark.django_db(transaction=True)
def test_an_unanswered_approval_expires_at_its_deadline_without_an_order(alice, approval_settings, celery_worker):
    approval_settings.APPROVAL_TIMEOUT_SECONDS = 1
    execution = park_here(alice)
    approval = ApprovalRequest.objects.get(execution=execution)
    assert approval.deadline <= timezone.now() + timedelta(seconds=1)

    _check_expired_without_order(execution)


@pytest.mark.django_db(transaction=True)
def test_the_periodic_sweep_expires_overdue_approvals(alice, celery_worker):
    execution = park_here(alice)
    ApprovalRequest.objects.filter(execution=execution).update(deadline=timezone.now() - timedelta(seconds=1))

    assert expire_overdue_approvals() == 1
    assert expire_overdue_approvals() == 0, "an expired request is not expired again"

    _check_expired_without_order(execution)


@pytest.mark.django_db(transaction=True)
def test_an_expired_approval_can_no_longer_be_answered(alice, alice_api, celery_worker):
    execution = park_here(alice)
    ApprovalRequest.objects.filter(execution=execution).update(deadline=timezone.now() - timedelta(seconds=1))
    expire_overdue_approvals()

    response = alice_api.post(f"/api/workflow-executions/{execution.pk}/approve/")

    assert response.status_code == 409 and "expired" in response.json()["detail"]
    _check_expired_without_order(execution)

