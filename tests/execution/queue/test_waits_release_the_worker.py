"""A waiting execution holds no worker: with ONE worker slot, another execution runs while one waits.

The symbol delay and `wait` steps suspend the run and schedule its continuation (execution.engine);
the only worker of the test, a prefork `celery worker` of concurrency 1, runs a second execution
meanwhile, and the first goes on when its continuation is due.
"""

import pytest

from execution.models import StepRun, WorkflowExecution
from execution.services import execution_enqueue
from tests.workers import WorkerProcess, finished, wait_until, waiting_execution, waiting_workflow

pytestmark = pytest.mark.processes

Status = WorkflowExecution.Status


@pytest.fixture
def one_slot_worker(exclusive, django_db_setup):
    worker = WorkerProcess("one-slot", concurrency=1).start()
    try:
        yield worker.wait_ready()
    finally:
        worker.stop()


def _both_finish(*executions) -> list[WorkflowExecution]:
    return [
        wait_until(lambda e=execution: finished(e.pk), timeout=90, message=f"execution {execution.pk} finished")
        for execution in executions
    ]


def _first_step(execution, symbol: str) -> StepRun:
    return StepRun.objects.filter(execution=execution, symbol=symbol).order_by("started_at").first()


@pytest.mark.django_db(transaction=True)
def test_two_executions_with_a_symbol_delay_interleave_on_one_worker_slot(alice, one_slot_worker):
    executions = [waiting_execution(alice, 0, symbols=("AAPL", "MSFT")) for _ in range(2)]
    for execution in executions:
        WorkflowExecution.objects.filter(pk=execution.pk).update(params={"symbol_delay": 3})
        execution_enqueue(execution)

    first, second = _both_finish(*executions)

    assert first.status == second.status == Status.COMPLETED, (first.error, second.error)
    # The second started while the first waited between its symbols, and the reverse.
    assert _first_step(second, "AAPL").started_at < _first_step(first, "MSFT").started_at
    assert _first_step(first, "MSFT").started_at < _first_step(second, "MSFT").started_at
    for execution in (first, second):
        assert execution.results["symbols_processed"] == 2
        assert StepRun.objects.filter(execution=execution, status="completed").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_wait_steps_run_covers_the_wait_while_the_worker_runs_another_execution(alice, one_slot_worker):
    waiting = waiting_execution(alice, 3, workflow=waiting_workflow(alice, 3, steps=2))
    execution_enqueue(waiting)
    wait_until(
        lambda: StepRun.objects.filter(execution=waiting, step_id="wait0", status="running").exists(),
        timeout=30,
        message="the first wait began",
    )
    quick = waiting_execution(alice, 0)
    execution_enqueue(quick)

    done_quick = wait_until(lambda: finished(quick.pk), timeout=30, message="the quick execution finished")
    still_waiting = WorkflowExecution.objects.get(pk=waiting.pk)
    done_waiting = wait_until(lambda: finished(waiting.pk), timeout=60, message="the waiting execution finished")

    assert done_quick.status == Status.COMPLETED
    assert still_waiting.status == Status.RUNNING  # a wait shows as running, as before
    assert done_waiting.status == Status.COMPLETED, done_waiting.error
    runs = list(StepRun.objects.filter(execution=waiting).order_by("index"))
    assert [(run.step_id, run.status, run.attempt) for run in runs] == [
        ("wait0", "completed", 1),
        ("wait1", "completed", 1),
    ]
    for run in runs:
        assert run.output["waited_seconds"] >= 3 and run.output["cancelled"] is False
        assert (run.finished_at - run.started_at).total_seconds() >= 3
    assert runs[1].started_at >= runs[0].finished_at
    assert done_quick.completed_at < runs[1].finished_at  # it ran during the waits
