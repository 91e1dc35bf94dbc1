"""Execution leases: one worker at a time runs an execution, and a run whose worker died is taken over or settled.

The recovery sweep against a real queue is in tests/integration/reliability/test_stranded_executions.py.
"""

import datetime

import pytest
from django.utils import timezone

from execution import leases
from execution.engine import ExecutionRun
from execution.leases import ExecutionHeld, LeaseRenewer
from execution.models import StepRun, WorkflowExecution
from execution.runner import run_execution
from tests.workers import waiting_execution

Status = WorkflowExecution.Status


def orphaned(execution, *, seconds_ago=5, **fields) -> WorkflowExecution:
    """The execution as a worker that died mid-run left it: running, its lease run out, a step half done."""
    WorkflowExecution.objects.filter(pk=execution.pk).update(
        status=Status.RUNNING,
        attempt=1,
        lease_expires_at=timezone.now() - datetime.timedelta(seconds=seconds_ago),
        started_at=timezone.now(),
        **fields,
    )
    StepRun.objects.create(
        execution=execution, symbol="AAPL", step_id="wait0", step_type="wait", index=0, status=StepRun.Status.RUNNING
    )
    execution.refresh_from_db()
    return execution


@pytest.mark.django_db(transaction=True)
def test_a_delivery_of_an_execution_another_worker_runs_comes_back_after_that_lease(alice):
    execution = waiting_execution(alice, 0)
    live_until = timezone.now() + datetime.timedelta(seconds=30)
    WorkflowExecution.objects.filter(pk=execution.pk).update(
        status=Status.RUNNING, attempt=1, lease_expires_at=live_until
    )

    with pytest.raises(ExecutionHeld) as held:
        run_execution(execution.pk)

    assert 29 <= held.value.retry_in <= 32
    execution.refresh_from_db()
    assert (execution.status, execution.attempt, execution.lease_expires_at) == (Status.RUNNING, 1, live_until)
    assert not StepRun.objects.filter(execution=execution).exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_died_is_taken_over_and_its_cut_off_step_runs_again(alice):
    execution = orphaned(waiting_execution(alice, 0))

    run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.status == Status.COMPLETED, execution.error
    assert (execution.attempt, execution.interruptions, execution.lease_expires_at) == (2, 1, None)
    runs = StepRun.objects.filter(execution=execution).order_by("pk")
    assert [(run.attempt, run.status) for run in runs] == [(1, "failed"), (2, "completed")]
    assert "worker running this step was lost" in runs[0].error


@pytest.mark.django_db(transaction=True)
def test_a_run_interrupted_too_often_fails_instead_of_running_again(alice, settings):
    settings.EXECUTION_MAX_INTERRUPTIONS = 3
    execution = orphaned(waiting_execution(alice, 0), interruptions=2)

    run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.status == Status.FAILED
    assert execution.error == "Interrupted 3 times (its worker was lost each time); not tried again"
    assert execution.completed_at is not None and execution.interruptions == 3
    assert list(StepRun.objects.filter(execution=execution).values_list("status", flat=True)) == ["failed"]


@pytest.mark.django_db(transaction=True)
def test_a_run_killed_after_its_soft_time_limit_is_settled_as_failed_not_resumed(alice):
    # What the engine leaves when the hard time limit kills it while its steps stop after the soft one.
    timed_out = "Timed out: the soft time limit of 3600 s was reached; the work done so far is kept"
    execution = orphaned(waiting_execution(alice, 0), cancel_requested=True, error=timed_out)

    run_execution(execution.pk)

    execution.refresh_from_db()
    assert (execution.status, execution.error) == (Status.FAILED, timed_out)
    run = StepRun.objects.get(execution=execution)
    assert run.status == "failed" and run.error == f"Stopped while running: {timed_out}"


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_run_whose_worker_died_while_stopping_ends_cancelled(alice):
    execution = orphaned(waiting_execution(alice, 0), cancel_requested=True)

    run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.status == Status.CANCELLED
    assert execution.error == "Cancelled; its worker was lost while it stopped"
    assert StepRun.objects.get(execution=execution).status == "cancelled"


@pytest.mark.django_db(transaction=True)
def test_a_run_that_was_taken_over_stops_and_leaves_the_outcome_to_the_new_owner(alice):
    execution = waiting_execution(alice, 0)
    run = ExecutionRun(execution)
    leases.claim(execution)
    renewer = LeaseRenewer.for_this_process()
    lease = renewer.hold(execution)
    renewer.renew()
    assert not lease.lost.is_set()
    # Its process froze past the lease; another worker claimed the execution meanwhile.
    WorkflowExecution.objects.filter(pk=execution.pk).update(attempt=2, lease_expires_at=leases.lease_end())

    renewer.renew()
    lease.release()
    run.lease = lease
    run.execution.status, run.execution.error = Status.CANCELLED, ""

    assert lease.lost.is_set() and run._cancel_requested()
    assert run._save_final_status() is False
    execution.refresh_from_db()
    assert (execution.status, execution.attempt) == (Status.RUNNING, 2)


@pytest.mark.django_db(transaction=True)
def test_one_renewal_renews_every_lease_the_process_holds_and_none_once_a_run_ends(alice):
    running = [waiting_execution(alice, 0) for _ in range(3)]
    for execution in running:
        leases.claim(execution)
    claimed_until = {e.pk: WorkflowExecution.objects.get(pk=e.pk).lease_expires_at for e in running}
    renewer = LeaseRenewer.for_this_process()
    held = [renewer.hold(execution) for execution in running]

    renewer.renew()

    for execution, lease in zip(running, held, strict=True):
        assert WorkflowExecution.objects.get(pk=execution.pk).lease_expires_at > claimed_until[execution.pk]
        assert not lease.lost.is_set()
        lease.release()
    ended = waiting_execution(alice, 0)
    run_execution(ended.pk)
    ended.refresh_from_db()
    assert (ended.status, ended.lease_expires_at) == (Status.COMPLETED, None)
