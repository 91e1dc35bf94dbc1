"""Schedules: cron entries on django-celery-beat that start runs, once per slot, never overlapping by default."""

import datetime
import json

import pytest
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from execution.models import Schedule, WorkflowExecution
from execution.schedules import schedule_create, schedule_fire
from tests.execution.conftest import make_strategy, workflow_from_template
from tests.workers import wait_until
from tradingweb.celery import app

pytestmark = pytest.mark.processes

UTC = datetime.UTC


@pytest.fixture
def strategy(alice):
    return make_strategy(alice, workflow_from_template(alice, "single_timeframe"), symbols=("AAPL",))


def _schedule(strategy, cron="*/5 * * * *", **options) -> Schedule:
    return schedule_create(
        owner=strategy.owner, workflow=strategy.workflow, strategy=strategy, cron_expression=cron, **options
    )


@pytest.mark.django_db
def test_it_creates_a_schedule_with_its_beat_entry_and_next_runs(alice_api, strategy):
    body = {
        "cron_expression": "30 14 * * 1-5",
        "strategy_id": strategy.pk,
        "description": "Afternoon",
        "priority": "high",
    }

    response = alice_api.post(f"/api/workflows/{strategy.workflow_id}/schedule/", body, format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["cron_description"] == "At 14:30, Monday through Friday (UTC)"
    assert len(data["next_runs"]) == 5 and data["next_run_time"] == data["next_runs"][0]
    assert all(datetime.datetime.fromisoformat(run).weekday() < 5 for run in data["next_runs"])
    assert data["last_run_time"] is None
    task = Schedule.objects.get(pk=data["id"]).periodic_task
    assert task.task == "execution.run_scheduled_workflow" and task.enabled
    assert json.loads(task.kwargs) == {"schedule_id": data["id"]}
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "14", "1-5")


@pytest.mark.django_db
def test_edits_and_deletes_keep_the_beat_entry_in_step(alice_api, strategy):
    schedule = _schedule(strategy)
    url = f"/api/schedules/{schedule.pk}/"

    response = alice_api.patch(url, {"cron_expression": "0 9 * * *", "enabled": False}, format="json")

    assert response.status_code == 200 and response.json()["next_runs"] == []
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert (task.crontab.minute, task.crontab.hour, task.enabled) == ("0", "9", False)
    assert alice_api.delete(url).status_code == 204
    assert not Schedule.objects.exists() and not PeriodicTask.objects.filter(pk=task.pk).exists()


@pytest.mark.django_db
def test_an_invalid_cron_is_refused_with_a_clear_message_and_nothing_is_saved(alice_api, strategy):
    url = f"/api/workflows/{strategy.workflow_id}/schedule/"
    for cron, words in (("61 * * * *", "61"), ("* * * *", "expected 5 fields"), ("0 0 * * * *", "got 6")):
        response = alice_api.post(url, {"cron_expression": cron, "strategy_id": strategy.pk}, format="json")
        assert response.status_code == 400 and words in response.json()["cron_expression"][0]
    assert (
        not Schedule.objects.exists() and not PeriodicTask.objects.filter(task__startswith="execution.run_sch").exists()
    )
    preview = alice_api.get("/api/schedules/preview/", {"cron": "0 0 31 2 *x"})
    assert preview.status_code == 400 and "cron" in preview.json()


@pytest.mark.django_db
def test_the_cron_preview_gives_the_next_five_runs_and_a_description(alice_api):
    response = alice_api.get("/api/schedules/preview/", {"cron": "0 */6 * * *"})

    assert response.status_code == 200
    data = response.json()
    assert data["description"] == "Every 6 hours (UTC)"
    runs = [datetime.datetime.fromisoformat(run) for run in data["next_runs"]]
    assert len(runs) == 5 and all(run.hour % 6 == 0 and run.minute == 0 for run in runs)
    assert all((later - earlier) == datetime.timedelta(hours=6) for earlier, later in zip(runs, runs[1:], strict=False))


@pytest.mark.django_db
def test_schedules_are_private_to_their_owner(alice_api, bob_api, staff_api, strategy, bob):
    schedule = _schedule(strategy)
    bobs = make_strategy(bob, workflow_from_template(bob, "single_timeframe"), name="Bob's")

    assert bob_api.get(f"/api/schedules/{schedule.pk}/").status_code == 404
    assert bob_api.get("/api/schedules/").json()["results"] == []
    assert bob_api.delete(f"/api/schedules/{schedule.pk}/").status_code == 404
    refused = bob_api.post(f"/api/workflows/{strategy.workflow_id}/schedule/", {"cron_expression": "* * * * *",
                           "strategy_id": bobs.pk}, format="json")  # fmt: skip
    assert refused.status_code == 404
    other = alice_api.post(f"/api/workflows/{strategy.workflow_id}/schedule/", {"cron_expression": "* * * * *",
                           "strategy_id": bobs.pk}, format="json")  # fmt: skip
    assert other.status_code == 400 and other.json()["strategy_id"] == ["strategy not found"]
    assert [row["id"] for row in alice_api.get("/api/schedules/").json()["results"]] == [schedule.pk]
    assert staff_api.get(f"/api/schedules/{schedule.pk}/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_slot_fires_once_and_a_run_is_skipped_while_the_previous_one_is_going(strategy, exclusive):
    schedule = _schedule(strategy, cron="* * * * *")
    at = datetime.datetime(2026, 11, 24, 15, 0, 5, tzinfo=UTC)

    first = schedule_fire(schedule.pk, now=at)
    again = schedule_fire(schedule.pk, now=at + datetime.timedelta(seconds=20))
    next_slot = schedule_fire(schedule.pk, now=at + datetime.timedelta(minutes=1))

    assert first["status"] == "started"
    assert again == {"status": "skipped", "reason": "slot already fired", "slot": "2026-11-24T15:00:00+00:00"}
    assert next_slot["status"] == "skipped" and "still running" in next_slot["reason"]
    execution = WorkflowExecution.objects.get()
    assert (execution.pk, execution.triggered_by, execution.schedule_id) == (
        first["execution_id"],
        "schedule",
        schedule.pk,
    )
    Schedule.objects.filter(pk=schedule.pk).update(allow_overlap=True)
    assert schedule_fire(schedule.pk, now=at + datetime.timedelta(minutes=2))["status"] == "started"
    assert WorkflowExecution.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_market_hours_only_fires_when_the_exchange_is_open(strategy, exclusive):
    schedule = _schedule(strategy, cron="*/30 * * * *", market_hours_only=True)
    thanksgiving = datetime.datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # NYSE closed all day
    half_day_open = datetime.datetime(2026, 11, 27, 17, 30, tzinfo=UTC)  # 12:30 New York, closes at 13:00
    half_day_closed = datetime.datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
    saturday = datetime.datetime(2026, 11, 28, 16, 0, tzinfo=UTC)

    assert schedule_fire(schedule.pk, now=thanksgiving)["reason"] == "market closed"
    assert schedule_fire(schedule.pk, now=half_day_closed)["reason"] == "market closed"
    assert schedule_fire(schedule.pk, now=saturday)["reason"] == "market closed"
    assert schedule_fire(schedule.pk, now=half_day_open)["status"] == "started"


@pytest.mark.django_db(transaction=True)
def test_beat_fires_a_due_schedule_and_a_worker_starts_its_execution(strategy, worker):
    schedule = _schedule(strategy, cron="* * * * *")
    # Last run two minutes ago: the "every minute" entry is due at beat's next tick.
    PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(
        last_run_at=datetime.datetime.now(UTC) - datetime.timedelta(minutes=2)
    )

    DatabaseScheduler(app=app).tick()

    execution = wait_until(
        lambda: WorkflowExecution.objects.filter(schedule=schedule).first(), timeout=30, message="a scheduled run"
    )
    assert execution.triggered_by == "schedule" and execution.task_id
    assert Schedule.objects.get(pk=schedule.pk).last_run_at is not None
