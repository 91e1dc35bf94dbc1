"""Work sent to other workers by task name, so that domain code never imports a tasks module."""

import time

import pandas as pd
from celery import current_app
from celery.result import AsyncResult
from django.conf import settings

from broker.charts import render_chart as render_chart_here
from broker.marketdata import frozen_bars
from broker.models import Chart, Instrument

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

    Drawing is the CPU work of a run; the io worker's thread only waits for it, which costs no core.
    """
    width, height = width or settings.CHART_WIDTH, height or settings.CHART_HEIGHT
    if not settings.CPU_WORK_QUEUE:
        return render_chart_here(instrument, period, bar, bars, indicators, width, height)
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
