"""A decision waiting for approval is a notification to the run's owner, once per request."""

import pytest

from agents.models import ApprovalRequest
from execution.approvals import park_execution
from execution.models import Decision, Notification
from tests.approvals.conftest import park_here


@pytest.mark.django_db(transaction=True)
def test_parking_for_approval_notifies_the_owner_once(alice, bob):
    execution = park_here(alice)
    approval = ApprovalRequest.objects.get(execution=execution)
    decision = Decision.objects.get(execution=execution)

    [notification] = Notification.objects.filter(kind=Notification.Kind.APPROVAL_REQUESTED)
    assert notification.owner == alice and notification.title == "BUY AAPL waits for your approval"
    assert notification.data["execution_id"] == execution.pk and notification.data["decision_id"] == decision.pk
    assert notification.data["deadline"] == str(approval.deadline)

    # A redelivered run parks again at the same pending request: nobody is told twice.
    park_execution(
        execution=execution,
        point=execution.progress["parked"],
        results=execution.results,
        progress_state=execution.progress,
    )
    assert Notification.objects.filter(kind=Notification.Kind.APPROVAL_REQUESTED).count() == 1
    assert not Notification.objects.filter(owner=bob).exists()
