"""A worker SIGKILLed while it holds a continuation (the ETA message of a suspended run) loses nothing.

The run suspended in a `wait` step, and its continuation sat in the worker's memory until due. The
worker dies; the message is gone for the visibility timeout (production's two hours). The lease
covers the wait and no longer, so the recovery sweep sends the continuation again, with its token,
and it runs exactly once.
"""

import pytest
from django.utils import timezone

from execution.leases import recover_stranded_executions, suspended_point
from execution.models import StepRun, WorkflowExecution
from execution.services import execution_enqueue
from tests.workers import WorkerProcess, finished, wait_until, waiting_execution
from tradingweb.celery import app

pytestmark = pytest.mark.processes

Status = WorkflowExecution.Status


def _holds_an_eta_message(worker: WorkerProcess) -> bool:
    replies = app.control.inspect(destination=[worker.hostname], timeout=1).scheduled() or {}
    return any(replies.values())


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_holding_a_continuation_loses_nothing_and_the_continuation_runs_once(alice, worker_env):
    env = {**worker_env, "EXECUTION_LEASE_SECONDS": "4", "CELERY_VISIBILITY_TIMEOUT": str(2 * 3600)}
    execution = waiting_execution(alice, 2, steps=2)
    execution_enqueue(execution)
    holder = WorkerProcess("holds-continuation", env=env).start()
    try:
        holder.wait_ready()
        wait_until(lambda: _holds_an_eta_message(holder), timeout=60, message="the worker holds the continuation")
        suspended = WorkflowExecution.objects.get(pk=execution.pk)
        holder.kill()
    finally:
        holder.stop()
    point = suspended_point(suspended)
    assert suspended.status == Status.RUNNING and point["kind"] == "wait"

    wait_until(
        lambda: WorkflowExecution.objects.get(pk=execution.pk).lease_expires_at < timezone.now(),
        timeout=30,
        message="the lease over the wait ran out",
    )
    assert recover_stranded_executions() == {"resent": 1, "still_queued": 0, "unknown": 0}
    worker = WorkerProcess("after-the-kill", env=env).start()
    try:
        done = wait_until(lambda: finished(execution.pk), timeout=60, message="the execution finished")
    finally:
        worker.stop()

    assert (done.status, done.interruptions) == (Status.COMPLETED, 0), done.error
    runs = StepRun.objects.filter(execution=execution).order_by("index")
    assert [(run.step_id, run.status, run.attempt) for run in runs] == [
        ("wait0", "completed", 1),
        ("wait1", "completed", 1),
    ]
    assert all(run.output["waited_seconds"] >= 2 for run in runs)
    assert done.attempt == point["token"] + 2  # one segment after the kill per wait: nothing ran twice
