"""Executions no queue or worker holds any more are found by their expired lease and run to an end.

Each case builds what a fault leaves in the real queue (the test's private Redis): a message lost in
a Redis crash, a backlog that only looks stranded. The sweep is the one beat runs
(execution.leases.recover_stranded_executions).
"""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from execution.leases import recover_stranded_executions
from execution.models import StepRun, WorkflowExecution
from execution.queue_metrics import waiting_task_ids
from execution.services import execution_enqueue
from tests.workers import WorkerProcess, finished, wait_until, waiting_execution

pytestmark = pytest.mark.processes

Status = WorkflowExecution.Status


def queue_key(queue: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}{queue}"


def lease_ran_out(execution) -> None:
    WorkflowExecution.objects.filter(pk=execution.pk).update(
        lease_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )


@pytest.mark.django_db(transaction=True)
def test_an_execution_whose_message_was_lost_is_sent_again_and_runs_once(alice, private_redis, worker_env):
    execution = waiting_execution(alice, 0)
    execution_enqueue(execution)
    execution.refresh_from_db()
    assert waiting_task_ids() == {execution.task_id}
    # What a worker's pop leaves when Redis dies before the worker records the message as its own.
    private_redis.client().delete(queue_key("normal"))
    lease_ran_out(execution)

    assert recover_stranded_executions() == {"resent": 1, "still_queued": 0, "unknown": 0}

    assert waiting_task_ids() == {execution.task_id}
    worker = WorkerProcess("lost-message", env=worker_env).start()
    try:
        done = wait_until(lambda: finished(execution.pk), timeout=60, message="the resent execution finished")
    finally:
        worker.stop()
    assert (done.status, done.attempt, done.interruptions) == (Status.COMPLETED, 1, 0)
    assert StepRun.objects.filter(execution=execution, status="completed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_execution_behind_a_backlog_is_left_in_the_queue_once(alice, private_redis):
    execution = waiting_execution(alice, 0)
    execution_enqueue(execution)
    execution.refresh_from_db()
    lease_ran_out(execution)

    assert recover_stranded_executions() == {"resent": 0, "still_queued": 1, "unknown": 0}

    assert private_redis.client().llen(queue_key("normal")) == 1
    assert WorkflowExecution.objects.get(pk=execution.pk).lease_expires_at > timezone.now()
    assert recover_stranded_executions() == {"resent": 0, "still_queued": 0, "unknown": 0}
