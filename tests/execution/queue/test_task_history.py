"""Task history lives in the database (django-celery-results): it outlasts the worker that wrote it."""

import datetime

import pytest
from django.utils import timezone
from django_celery_results.models import TaskResult

from execution.services import execution_enqueue
from tests.workers import WorkerProcess, wait_until, waiting_execution
from tradingweb.celery import app

pytestmark = pytest.mark.processes


def run_on(worker: WorkerProcess, execution) -> str:
    task_id = execution_enqueue(execution)
    wait_until(
        lambda: TaskResult.objects.filter(task_id=task_id, status="SUCCESS").exists(),
        timeout=90,
        message=f"the result of {task_id} stored",
    )
    return task_id


@pytest.mark.django_db(transaction=True)
def test_yesterday_s_finished_task_is_still_listed_after_the_worker_restarts(
    alice, alice_api, bob_api, staff_api, exclusive
):
    first = WorkerProcess("history-first").start()
    try:
        first.wait_ready()
        yesterday_s = run_on(first, waiting_execution(alice, 0))
    finally:
        first.stop()
    yesterday = timezone.now() - datetime.timedelta(days=1)
    TaskResult.objects.filter(task_id=yesterday_s).update(date_created=yesterday, date_done=yesterday)

    second = WorkerProcess("history-second").start()
    try:
        second.wait_ready()
        today_s = run_on(second, waiting_execution(alice, 0))
    finally:
        second.stop()

    rows = alice_api.get("/api/tasks/", {"status": "SUCCESS"}).json()["results"]
    assert [row["task_id"] for row in rows] == [today_s, yesterday_s]
    old = rows[1]
    assert old["task_name"] == "execution.run_workflow_execution"
    assert old["worker"].startswith("history-first")
    assert old["execution_status"] == "completed"
    assert datetime.datetime.fromisoformat(old["completed_at"]).date() == yesterday.date()
    assert alice_api.get("/api/tasks/", {"status": "FINISHED"}).json()["count"] == 2
    assert alice_api.get("/api/tasks/", {"status": "FAILURE"}).json()["results"] == []
    assert bob_api.get("/api/tasks/", {"status": "SUCCESS"}).json()["results"] == []
    assert {yesterday_s, today_s} <= {
        row["task_id"] for row in staff_api.get("/api/tasks/", {"status": "SUCCESS"}).json()["results"]
    }


@pytest.mark.django_db
def test_the_task_queue_page_lists_finished_tasks_from_the_result_store(client, alice, bob):
    execution = waiting_execution(alice, 0)
    execution.task_id = "finished-task-1"
    execution.status = "completed"
    execution.save(update_fields=["task_id", "status"])
    TaskResult.objects.create(
        task_id="finished-task-1", task_name="execution.run_workflow_execution", status="FAILURE",
        worker="io-1@host", result='{"exc_type": "ValueError"}', traceback="Traceback: ValueError",
    )  # fmt: skip

    client.force_login(alice)
    page = client.get("/tasks/").content.decode()

    assert 'data-task="finished-task-1"' in page
    assert "execution.run_workflow_execution" in page and "io-1@host" in page
    client.force_login(bob)
    assert 'data-task="finished-task-1"' not in client.get("/tasks/").content.decode()


@pytest.mark.django_db
def test_the_backend_cleanup_prunes_results_older_than_celery_result_expires():
    now = timezone.now()
    expires = datetime.timedelta(seconds=app.conf.result_expires)
    for task_id, age in (("old", expires + datetime.timedelta(minutes=1)), ("recent", datetime.timedelta(hours=1))):
        TaskResult.objects.create(task_id=task_id, status="SUCCESS")
        TaskResult.objects.filter(task_id=task_id).update(date_done=now - age)

    # The task celery beat schedules daily (4:00) when results do not expire by themselves.
    app.tasks["celery.backend_cleanup"].apply().get()

    assert list(TaskResult.objects.values_list("task_id", flat=True)) == ["recent"]


@pytest.mark.django_db
def test_the_admin_lists_task_results(client, staff):
    TaskResult.objects.create(task_id="listed-in-admin", task_name="execution.prune_old_executions", status="SUCCESS")
    client.force_login(staff)

    response = client.get("/admin/django_celery_results/taskresult/")

    assert response.status_code == 200
    assert "listed-in-admin" in response.content.decode()
