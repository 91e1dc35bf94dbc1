"""A run that must wait suspends: its task returns, and one continuation, due at the wake time, goes on.

In-process (the engine without Celery); the worker-level cases are in
tests/execution/queue/test_waits_release_the_worker.py and tests/integration/reliability/test_worker_sigkills.py.
"""

import datetime

import pytest
import time_machine
from django.db import connection

from execution.leases import ExecutionHeld, suspended_point
from execution.models import StepRun, WorkflowExecution
from execution.runner import run_execution
from tests.support.runs import continuations_kept_here, run_to_end
from tests.workers import wait_until, waiting_execution

Status = WorkflowExecution.Status


@pytest.fixture(autouse=True)
def kept_here():
    """This test runs the continuations; a worker of the test run must not."""
    with continuations_kept_here() as sent:
        yield sent


def _wake(point: dict) -> datetime.datetime:
    return datetime.datetime.fromisoformat(point["wake_at"])


@pytest.mark.django_db(transaction=True)
def test_a_wait_step_suspends_the_run_and_its_continuation_ends_the_steps_run_after_the_wait(alice, kept_here):
    execution = waiting_execution(alice, 0.4)

    run_execution(execution.pk)

    execution.refresh_from_db()
    point = suspended_point(execution)
    assert execution.status == Status.RUNNING and point["kind"] == "wait"
    kept_here.assert_called_once_with(
        execution.pk, queue="normal", task_id=execution.task_id, token=point["token"], eta=_wake(point)
    )
    wait_run = StepRun.objects.get(execution=execution)
    assert wait_run.status == "running" and wait_run.finished_at is None
    assert execution.lease_expires_at > _wake(point)  # the lease covers the wait, for the recovery sweep
    with pytest.raises(ExecutionHeld):
        run_execution(execution.pk, point["token"])  # not due yet: it comes back at the wake time

    with time_machine.travel(_wake(point), tick=True):
        run_execution(execution.pk, point["token"])

    execution.refresh_from_db()
    wait_run.refresh_from_db()
    assert execution.status == Status.COMPLETED and suspended_point(execution) is None
    assert (wait_run.status, wait_run.output["cancelled"]) == ("completed", False)
    assert wait_run.output["waited_seconds"] >= 0.4 and wait_run.duration_ms >= 400


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_or_stale_continuation_runs_nothing(alice):
    execution = waiting_execution(alice, 5, steps=2)
    run_execution(execution.pk)
    execution.refresh_from_db()
    point = suspended_point(execution)

    with time_machine.travel(_wake(point), tick=True):
        run_execution(execution.pk, point["token"])  # wait0 ends, wait1 begins: the run suspends again
        execution.refresh_from_db()
        second_point = suspended_point(execution)
        runs_before = list(StepRun.objects.filter(execution=execution).values_list("pk", "status"))

        run_execution(execution.pk, point["token"])  # the first continuation, delivered again
        with pytest.raises(ExecutionHeld):
            run_execution(execution.pk)  # the first message, delivered again: it may go on for the run when due

    execution.refresh_from_db()
    assert suspended_point(execution) == second_point
    assert list(StepRun.objects.filter(execution=execution).values_list("pk", "status")) == runs_before
    assert second_point["token"] == point["token"] + 1
    assert run_to_end(execution.pk).status == Status.COMPLETED
    assert StepRun.objects.filter(execution=execution, status="completed").count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_symbol_delay_suspends_between_symbols_and_the_next_symbol_starts_on_waking(alice):
    execution = waiting_execution(alice, 0, symbols=("AAPL", "MSFT", "NVDA"))
    WorkflowExecution.objects.filter(pk=execution.pk).update(params={"symbol_delay": 60})

    run_execution(execution.pk)

    execution.refresh_from_db()
    point = suspended_point(execution)
    assert execution.status == Status.RUNNING
    assert (point["kind"], point["symbol"], point["symbol_index"]) == ("delay", "MSFT", 1)
    assert execution.progress["completed_symbols"] == 1
    assert list(StepRun.objects.filter(execution=execution).values_list("symbol", flat=True)) == ["AAPL"]

    done = run_to_end(execution.pk)

    assert done.status == Status.COMPLETED and done.results["symbols_processed"] == 3
    starts = list(
        StepRun.objects.filter(execution=execution).order_by("started_at").values_list("started_at", flat=True)
    )
    assert all((later - earlier).total_seconds() >= 60 for earlier, later in zip(starts, starts[1:], strict=False))


def _connections_to_the_database() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_shared_step_threads_hold_no_database_connection_once_idle(alice):
    before = _connections_to_the_database()
    executions = [waiting_execution(alice, 0.2, steps=2, symbols=("AAPL", "MSFT")) for _ in range(3)]

    for execution in executions:
        assert run_to_end(execution.pk).status == Status.COMPLETED

    wait_until(
        lambda: _connections_to_the_database() <= before,
        timeout=30,
        message="the step threads and the lease renewer closed their connections",
    )
