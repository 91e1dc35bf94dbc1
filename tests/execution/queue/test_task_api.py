"""GET /api/tasks/, /api/tasks/{task_id}/ and /api/tasks/metrics/: owner-scoped, with the Celery state."""

import datetime

import pytest
from django.utils import timezone

from execution.maintenance import prune_executions
from execution.models import StepRun, WorkflowExecution
from execution.services import execution_enqueue
from tests.workers import waiting_execution

pytestmark = pytest.mark.processes


@pytest.mark.django_db(transaction=True)
def test_a_task_shows_its_state_and_progress_to_its_owner_and_staff_only(
    alice, alice_api, bob_api, staff_api, exclusive
):
    execution = waiting_execution(alice, 0, priority="low")
    task_id = execution_enqueue(execution)

    response = alice_api.get(f"/api/tasks/{task_id}/")

    assert response.status_code == 200
    data = response.json()
    assert (data["task_id"], data["status"], data["execution_id"]) == (task_id, "PENDING", execution.pk)
    assert set(data["progress"]) == {"current_step", "total_steps", "current_symbol", "completed_symbols"}
    assert data["result"] is None
    assert bob_api.get(f"/api/tasks/{task_id}/").status_code == 404
    assert staff_api.get(f"/api/tasks/{task_id}/").status_code == 200
    assert [row["task_id"] for row in alice_api.get("/api/tasks/", {"status": "PENDING"}).json()["results"]] == [
        task_id
    ]
    assert alice_api.get("/api/tasks/", {"status": "STARTED"}).json()["results"] == []
    assert bob_api.get("/api/tasks/").json()["results"] == []
    assert alice_api.get("/api/tasks/", {"status": "DONE"}).status_code == 400
    metrics = alice_api.get("/api/tasks/metrics/").json()
    assert metrics["tasks_queued"] == {"high": 0, "normal": 0, "low": 1}
    assert set(metrics) == {"tasks_queued", "tasks_active", "tasks_completed_today", "tasks_failed_today",
                            "average_duration", "worker_count"}  # fmt: skip


@pytest.mark.django_db
def test_a_step_waiting_for_its_retry_shows_as_retry_and_the_end_as_success_or_failure(alice, alice_api):
    execution = waiting_execution(alice, 0)
    WorkflowExecution.objects.filter(pk=execution.pk).update(task_id="t-1", status="running")
    StepRun.objects.create(execution=execution, symbol="AAPL", index=0, step_id="bars", step_type="fetch_data",
                           status="failed", output={"retry_in": 2.0})  # fmt: skip
    assert alice_api.get("/api/tasks/t-1/").json()["status"] == "RETRY"
    results = {"symbols_processed": 1, "orders_placed": 0}
    WorkflowExecution.objects.filter(pk=execution.pk).update(status="completed", results=results)
    assert alice_api.get("/api/tasks/t-1/").json()["result"] == results
    WorkflowExecution.objects.filter(pk=execution.pk).update(status="failed", error="Every symbol failed")
    assert alice_api.get("/api/tasks/t-1/").json()["status"] == "FAILURE"


@pytest.mark.django_db
def test_the_daily_cleanup_prunes_finished_executions_past_the_retention(alice, settings):
    settings.EXECUTION_RETENTION_DAYS = 30
    old, recent, still_running = (waiting_execution(alice, 0) for _ in range(3))
    long_ago = timezone.now() - datetime.timedelta(days=31)
    WorkflowExecution.objects.filter(pk__in=[old.pk, still_running.pk]).update(created_at=long_ago)
    WorkflowExecution.objects.filter(pk__in=[old.pk, recent.pk]).update(status="completed")
    StepRun.objects.create(execution=old, symbol="AAPL", index=0, step_id="w", step_type="wait", status="completed")

    summary = prune_executions()

    assert summary["deleted"]["workflowexecution"] == 1 and summary["deleted"]["steprun"] == 1
    assert set(WorkflowExecution.objects.values_list("pk", flat=True)) == {recent.pk, still_running.pk}
