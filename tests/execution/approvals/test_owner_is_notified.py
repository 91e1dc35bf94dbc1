"""A decision waiting for approval is a notification to the run's owner, once per request."""

import pytest

from agents.models import ApprovalRequest
from execution.models import Decision, Notification, WorkflowExecution
from execution.runner import run_execution
from tests.execution.approvals.conftest import park_here


@pytest.mark.django_db(transaction=True)
def test_parking_for_approval_notifies_the_owner_once(alice, bob):
    execution = park_here(alice)
    approval = ApprovalRequest.objects.get(execution=execution)
    decision = Decision.objects.get(execution=execution)

    [notification] = Notification.objects.filter(kind=Notification.Kind.APPROVAL_REQUESTED)
    assert notification.owner == alice and notification.title == "BUY AAPL waits for your approval"
    assert notification.data["execution_id"] == execution.pk and notification.data["decision_id"] == decision.pk
    assert notification.data["deadline"] == str(approval.deadline)

    # A continuation delivered before anyone answered parks again at the same pending request: nobody is told twice.
    run_execution(execution.pk, execution.progress["parked"]["token"])
    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.AWAITING_APPROVAL
    assert ApprovalRequest.objects.filter(execution=execution).count() == 1
    assert Notification.objects.filter(kind=Notification.Kind.APPROVAL_REQUESTED).count() == 1
    assert not Notification.objects.filter(owner=bob).exists()
