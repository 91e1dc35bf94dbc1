"""409: answering an execution that is not awaiting approval, or a request already answered."""

import pytest

from agents.models import ApprovalRequest
from execution.models import WorkflowExecution
from tests.execution.approvals.conftest import new_execution, park_here, wait_for_end


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["approve", "reject", "modify"])
def test_it_refuses_to_answer_an_execution_not_awaiting_approval(alice, alice_api, action):
    execution = new_execution(alice)

    response = alice_api.post(f"/api/workflow-executions/{execution.pk}/{action}/", {"quantity": 1}, format="json")

    assert response.status_code == 409
    assert response.json()["detail"] == f"execution {execution.pk} is pending, not awaiting approval"
    assert WorkflowExecution.objects.get(pk=execution.pk).status == WorkflowExecution.Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_second_answer(alice, alice_api, celery_worker):
    execution = park_here(alice)
    assert alice_api.post(f"/api/workflow-executions/{execution.pk}/reject/").status_code == 202

    for action in ("approve", "reject", "modify"):
        response = alice_api.post(f"/api/workflow-executions/{execution.pk}/{action}/", {"quantity": 1}, format="json")
        assert response.status_code == 409 and "already answered (rejected)" in response.json()["detail"]

    assert wait_for_end(execution.pk).status == WorkflowExecution.Status.COMPLETED
    assert ApprovalRequest.objects.get(execution=execution).status == "rejected"
