"""Sending Celery tasks: the one module that knows the tasks' names.

Domain code (the engine, services, approvals, cancel, leases, notifications, schedules) sends
work through these functions and never imports `execution/tasks.py`; the tasks import the domain
code. So the import graph of `execution/` has no circles, and a task can move or be renamed here
in one place. Messages carry ids only (JSON); the rows hold everything else. A chart is drawn on
a cpu worker and waited for here (`render_chart`).
"""

import datetime
import time

import pandas as pd
import redis
from celery import current_app
from celery.result import AsyncResult
from django.conf import settings
from kombu.exceptions import OperationalError

from broker.charts import chart_content_key, chart_once
from broker.charts import render_chart as render_chart_here
from broker.marketdata import frozen_bars
from broker.models import Chart, Instrument
from execution.queue_order import fair_message_options

# The result backend is the database: a waiting thread asks it whether its chart is drawn after 0.05 s,
# then twice as long each time up to 1 s. A chart takes about a second, so most are seen within 0.2 s of
# being done, and 64 threads waiting behind a long queue of charts ask about 64 times a second, not 640.
FIRST_POLL_SECONDS, LONGEST_POLL_SECONDS = 0.05, 1.0


class ChartRenderTimeout(Exception):
    """No cpu worker drew the chart within CHART_RENDER_TIMEOUT_SECONDS."""


def render_chart(
    instrument: Instrument,
    period: str,
    bar: str,
    bars: pd.DataFrame,
    indicators: list[str] | None,
    width: int | None,
    height: int | None,
) -> Chart:
    """Draws a chart on a cpu worker (queue CPU_WORK_QUEUE) and waits for it; without that queue, draws it here.

    Drawing is the CPU work of a run; the io worker's thread only waits for it, which costs no core. A chart
    of the same content drawn already is reused, and while one is being drawn the others asking for it
    wait for it, here, holding no cpu worker (broker.charts.chart_once).
    """
    width, height = width or settings.CHART_WIDTH, height or settings.CHART_HEIGHT
    if not settings.CPU_WORK_QUEUE:
        return render_chart_here(instrument, period, bar, bars, indicators, width, height)
    key = chart_content_key(instrument, period, bar, bars, indicators, width, height)
    return chart_once(key, lambda: _draw_on_cpu_worker(instrument, period, bar, bars, indicators, width, height))


def _draw_on_cpu_worker(instrument, period, bar, bars, indicators, width, height) -> Chart:
    result = current_app.send_task(
        "broker.render_chart",
        args=(instrument.pk, period, bar, frozen_bars(bars), indicators, width, height),
        queue=settings.CPU_WORK_QUEUE,
    )
    timeout = settings.CHART_RENDER_TIMEOUT_SECONDS
    if not finished_within(result, timeout):
        result.revoke()
        raise ChartRenderTimeout(
            f"no chart within {timeout} s: is a cpu worker consuming queue {settings.CPU_WORK_QUEUE!r} "
            "(python -m tradingweb.worker cpu)? CHART_RENDER_TIMEOUT_SECONDS sets the wait"
        )
    # Waiting inside a task on another task is what disable_sync_subtasks forbids by default (a pool waiting
    # on its own work could deadlock); the chart is another pool's work, and it is done already.
    return Chart.objects.get(pk=result.get(timeout=timeout, disable_sync_subtasks=False))


def finished_within(result: AsyncResult, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    interval = FIRST_POLL_SECONDS
    while not result.ready():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(interval, left))
        interval = min(2 * interval, LONGEST_POLL_SECONDS)
    return True


RUN_EXECUTION = "execution.run_workflow_execution"
RUN_BACKTEST = "execution.run_backtest"
TERMINATE_CANCELLED_EXECUTION = "execution.terminate_cancelled_execution"
EXPIRE_APPROVAL = "execution.expire_approval"
DELIVER_NOTIFICATION = "execution.deliver_notification"
RECONCILE_AND_NOTIFY = "execution.reconcile_and_notify"
HIGH_QUEUE = "high"
# What sending raises when the broker cannot be reached: kombu's error once it has retried, or Redis's own
# from the queue's owner counts (execution.queue_order).
BROKER_ERRORS = (OperationalError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def send_execution_run(
    execution_id: int,
    *,
    queue: str,
    task_id: str,
    token: int | None = None,
    eta: datetime.datetime | None = None,
    owner_id: int | None = None,
) -> None:
    """Run an execution: its first delivery (no token), or the continuation of a suspension (see execution.leases).

    A continuation carries `token`, the attempt at which the run suspended, and is due at `eta`. A message
    sent for now with its `owner_id` takes its owner's turn in the queue (execution.queue_order); one due
    later is held by a worker until then, outside the queue's order.
    """
    args = [execution_id] if token is None else [execution_id, token]
    turn = fair_message_options(owner_id, queue) if owner_id is not None and eta is None else {}
    current_app.send_task(RUN_EXECUTION, args=args, queue=queue, task_id=task_id, eta=eta, **turn)


def send_backtest_run(backtest_id: int, *, task_id: str) -> None:
    """Backtests are long and nobody waits on them trade by trade: they run on the low queue."""
    current_app.send_task(RUN_BACKTEST, args=[backtest_id], queue="low", task_id=task_id)


def send_cancel_fallback(execution_id: int, grace_seconds: int) -> None:
    current_app.send_task(
        TERMINATE_CANCELLED_EXECUTION, args=[execution_id, grace_seconds], countdown=grace_seconds, queue=HIGH_QUEUE
    )


def send_approval_expiry(approval_id: int, countdown: float) -> None:
    current_app.send_task(EXPIRE_APPROVAL, args=[approval_id], countdown=countdown, queue=HIGH_QUEUE)


def send_notification_delivery(notification_id: int) -> None:
    current_app.send_task(DELIVER_NOTIFICATION, args=[notification_id])


def send_reconciliation():
    return current_app.send_task(RECONCILE_AND_NOTIFY, queue="normal")


def revoke(task_id: str, *, terminate: bool = False) -> None:
    """Tell the workers not to run (or, with `terminate`, to kill the process running) task `task_id`."""
    if terminate:
        current_app.control.revoke(task_id, terminate=True, signal="SIGTERM")
    else:
        current_app.control.revoke(task_id)
