"""Waiting for a person holds no worker slot: with ONE slot, another execution runs while one awaits approval."""

import pytest
from celery.result import AsyncResult

from execution.models import Decision, WorkflowExecution
from tests.execution.approvals.conftest import enqueue, entry_order, new_execution, wait_for_end, wait_for_parked
from tests.workers import WorkerProcess, consumer_nodes, start_consuming, stop_consuming, wait_until

pytestmark = pytest.mark.processes


@pytest.fixture(scope="module")
def one_slot_worker(django_db_setup):
    """The only execution slot of the run: a `celery worker` process with ONE pool process.

    Every other worker of this run (the shared in-process `celery_worker`, once a test started it)
    stops consuming until the module ends. A process, not a second in-process worker: stopping an
    in-process worker stops every worker thread of the process (celery.worker.state is global).
    """
    others = consumer_nodes()
    worker = None
    try:
        stop_consuming(others)
        worker = WorkerProcess("one-slot", concurrency=1).start()
        yield worker.wait_ready()
    finally:
        # Whatever failed above, the shared worker must consume again, or every later test waits in vain.
        if worker is not None:
            worker.stop()
        start_consuming(others)


@pytest.mark.django_db(transaction=True)
def test_a_parked_execution_frees_the_only_worker_slot_for_another(alice, alice_api, one_slot_worker):
    waiting = enqueue(new_execution(alice, name="Needs approval"))
    parked = wait_for_parked(waiting.pk, "AAPL")
    # The row says "awaiting approval" a moment before the task returns and stores its result.
    wait_until(AsyncResult(parked.task_id).successful, timeout=30, message="the task that parked has returned")

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
