"""Executions run side by side up to the workers' concurrency; execute-batch starts one task per request."""

import pytest

from execution.models import StepRun, WorkflowExecution
from execution.services import execution_enqueue
from tests.execution.conftest import make_strategy, workflow_from_template
from tests.workers import WorkerProcess, finished, wait_until, waiting_execution, waiting_workflow

pytestmark = pytest.mark.processes


def most_at_once(runs) -> int:
    """The largest number of step runs whose [started_at, finished_at] intervals overlap."""
    edges = sorted([(run.started_at, 1) for run in runs] + [(run.finished_at, -1) for run in runs])
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak


@pytest.mark.django_db(transaction=True)
def test_waiting_executions_hold_no_worker_slot_so_more_wait_at_once_than_there_are_slots(alice, exclusive):
    workflow = waiting_workflow(alice, 1.0)
    executions = [waiting_execution(alice, 0, workflow=workflow) for _ in range(4)]
    for execution in executions:
        execution_enqueue(execution)

    worker = WorkerProcess("slots", concurrency=2).start()  # a fresh one: both of its slots are free
    try:
        worker.wait_ready()
        for execution in executions:
            wait_until(lambda pk=execution.pk: finished(pk), timeout=60, message=f"execution {execution.pk} finished")
    finally:
        worker.stop()

    runs = list(StepRun.objects.filter(execution__in=executions))
    assert len(runs) == 4 and all(run.status == "completed" for run in runs)
    # 4 waits of 1 s on 2 slots: a wait holds no slot (execution.engine), so all 4 wait at the same time.
    assert most_at_once(runs) == len(executions) > worker.concurrency


@pytest.mark.django_db(transaction=True)
def test_execute_batch_starts_each_request_as_its_own_task(alice, alice_api, exclusive):
    workflow = workflow_from_template(alice, "single_timeframe")
    strategy = make_strategy(alice, workflow, symbols=("AAPL", "MSFT"))
    body = [
        {"strategy_id": strategy.pk, "symbols": ["AAPL"], "priority": "high", "dry_run": True},
        {"strategy_id": strategy.pk, "workflow_id": workflow.pk, "symbols": ["MSFT"], "priority": "low"},
    ]

    response = alice_api.post("/api/workflows/execute-batch/", body, format="json")

    assert response.status_code == 202
    started = response.json()
    assert len(started) == 2 and len({item["task_id"] for item in started}) == 2
    executions = [WorkflowExecution.objects.get(pk=item["workflow_execution_id"]) for item in started]
    assert [(e.symbols, e.priority, e.dry_run, e.task_id) for e in executions] == [
        (["AAPL"], "high", True, started[0]["task_id"]),
        (["MSFT"], "low", False, started[1]["task_id"]),
    ]
    queued = alice_api.get("/api/tasks/metrics/").json()["tasks_queued"]
    assert queued == {"high": 1, "normal": 0, "low": 1}


@pytest.mark.django_db(transaction=True)
def test_execute_batch_is_all_or_nothing_with_errors_per_request(alice, bob, alice_api):
    workflow = workflow_from_template(alice, "single_timeframe")
    strategy = make_strategy(alice, workflow, symbols=("AAPL",))
    bobs_strategy = make_strategy(bob, workflow_from_template(bob, "single_timeframe"), name="Bob's")
    body = [
        {"strategy_id": strategy.pk},
        {"strategy_id": strategy.pk, "symbols": ["TSLA"]},
        {"strategy_id": bobs_strategy.pk},
        {"strategy_id": strategy.pk, "priority": "urgent"},
    ]

    response = alice_api.post("/api/workflows/execute-batch/", body, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[0] == {} and errors[1] == {} and errors[2] == {} and "priority" in errors[3]
    body[3]["priority"] = "normal"
    response = alice_api.post("/api/workflows/execute-batch/", body, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert (
        errors[0] == {} and "TSLA" in errors[1]["symbols"][0] and errors[2] == {"strategy_id": ["strategy not found"]}
    )
    assert not WorkflowExecution.objects.exists()
    assert alice_api.post("/api/workflows/execute-batch/", [], format="json").status_code == 400
