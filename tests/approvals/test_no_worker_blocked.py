"""Waiting for a person holds no worker slot: with ONE slot, another execution runs while one awaits approval."""

import pytest
from celery.result import AsyncResult

from execution.models import Decision, WorkflowExecution
from tests.approvals.conftest import enqueue, entry_order, new_execution, wait_for_end, wait_for_parked


@pytest.mark.django_db(transaction=True)
def test_a_parked_execution_frees_the_only_worker_slot_for_another(alice, alice_api, one_slot_worker):
    waiting = enqueue(new_execution(alice, name="Needs approval"))
    parked = wait_for_parked(waiting.pk, "AAPL")
    assert AsyncResult(parked.task_id).successful(), "the task that parked has returned"

    other = enqueue(new_execution(alice, human_approval=False, name="Runs alone"))
    finished_other = wait_for_end(other.pk)

    assert finished_other.status == WorkflowExecution.Status.COMPLETED, (finished_other.error, finished_other.results)
    assert entry_order(Decision.objects.get(execution=other)) is not None
    waiting.refresh_from_db()
    assert waiting.status == WorkflowExecution.Status.AWAITING_APPROVAL

    assert alice_api.post(f"/api/workflow-executions/{waiting.pk}/approve/").status_code == 202
    finished = wait_for_end(waiting.pk)
    assert finished.status == WorkflowExecution.Status.COMPLETED
    assert entry_order(Decision.objects.get(execution=waiting)) is not None
