"""Only the owner (and staff) see and answer an execution's approval; others get 404."""

import pytest

from agents.models import ApprovalRequest
from execution.models import WorkflowExecution
from tests.execution.approvals.conftest import park_here, wait_for_end


@pytest.mark.django_db(transaction=True)
def test_the_owner_and_staff_see_and_answer_the_approval_and_others_get_404(
    alice, alice_api, bob_api, staff, staff_api, celery_worker
):
    execution = park_here(alice)
    url = f"/api/workflow-executions/{execution.pk}"

    assert alice_api.get(f"{url}/approval/").status_code == 200
    assert staff_api.get(f"{url}/approval/").status_code == 200
    assert bob_api.get(f"{url}/approval/").status_code == 404
    for action in ("approve", "reject", "modify"):
        assert bob_api.post(f"{url}/{action}/", {"quantity": 1}, format="json").status_code == 404
    assert ApprovalRequest.objects.get(execution=execution).status == "pending"

    assert staff_api.post(f"{url}/approve/").status_code == 202
    assert ApprovalRequest.objects.get(execution=execution).responder == staff
    assert wait_for_end(execution.pk).status == WorkflowExecution.Status.COMPLETED
