"""beat killed and started again: the schedule's slot that already fired does not start a second run.

django-celery-beat saves its entries' last run times every three minutes, so a beat killed between
a firing and that save starts up believing the entry is still due and sends its trigger again (the
test sets the last run time back after the kill, which is what such a kill leaves behind). The slot guard of
execution/schedules.py (a Redis key per schedule and slot) is what keeps that second trigger from
starting a second execution; overlap is allowed here so nothing else stands in its way. (The same
guard also catches the double trigger beat sends when its entries change right after a firing: it
reloads them from the database with the last run time not saved yet.)
"""

import datetime

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from execution.models import WorkflowExecution
from execution.schedules import schedule_create
from tests.execution.conftest import make_strategy, workflow_from_template
from tests.workers import BeatProcess, WorkerProcess, wait_until

pytestmark = pytest.mark.processes

HOURLY = "0 * * * *"  # one slot per hour: both firings of the test fall into the same one


def never_ran_this_hour(schedule) -> None:
    PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(
        last_run_at=timezone.now() - datetime.timedelta(hours=2)
    )


def stay_clear_of_the_hour() -> None:
    """Both firings must belong to one hourly slot; wait out the last half minute of an hour."""
    now = timezone.now()
    if now.minute == 59 and now.second >= 30:
        wait_until(lambda: timezone.now().minute != 59, timeout=40, interval=1, message="the next hour")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_restarted_beat_does_not_start_a_slot_twice(alice, worker_env):
    strategy = make_strategy(alice, workflow_from_template(alice, "single_timeframe"), symbols=("AAPL",))
    schedule = schedule_create(
        owner=alice, workflow=strategy.workflow, strategy=strategy, cron_expression=HOURLY, allow_overlap=True
    )
    never_ran_this_hour(schedule)  # due as soon as beat looks
    stay_clear_of_the_hour()
    runs = WorkflowExecution.objects.filter(schedule=schedule)
    worker = WorkerProcess("beat-restart", env=worker_env).start()
    beats = [BeatProcess(env=worker_env).start()]
    sent = f"Sending due task schedule {schedule.pk} "
    handled = f"Schedule {schedule.pk}: slot "  # the trigger task's log line: started, or already fired
    try:
        worker.wait_ready()
        wait_until(runs.exists, timeout=60, message="the first firing's execution")
        beats[0].kill()
        never_ran_this_hour(schedule)  # what a beat killed between a firing and its next save of the entries leaves

        beats.append(BeatProcess(env=worker_env).start())
        wait_until(lambda: sent in beats[1].log_text(), timeout=60, message="the restarted beat's trigger")
        wait_until(
            lambda: worker.log_text().count(handled) == sum(beat.log_text().count(sent) for beat in beats),
            timeout=30,
            message="every trigger handled",
        )
    finally:
        beats[-1].stop()
        worker.stop()

    assert worker.log_text().count("has already fired; not starting it twice") >= 1
    assert runs.count() == 1
