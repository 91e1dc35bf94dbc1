"""Work sent to other workers by task name, so that domain code never imports a tasks module."""

import pandas as pd
from celery import current_app
from celery.exceptions import TimeoutError as ResultTimeout
from django.conf import settings

from broker.charts import render_chart as render_chart_here
from broker.marketdata import frozen_bars
from broker.models import Chart, Instrument

# The result backend is the database: a waiting thread asks it this often whether its chart is drawn.
CHART_RESULT_POLL_SECONDS = 0.1


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
    try:
        # A thread of the io worker waiting on another worker's task is what disable_sync_subtasks forbids by
        # default (a prefork process waiting on its own pool could deadlock); a cpu worker is another pool.
        chart_id = result.get(timeout=timeout, interval=CHART_RESULT_POLL_SECONDS, disable_sync_subtasks=False)
    except ResultTimeout as error:
        result.revoke()
        raise ChartRenderTimeout(
            f"no chart within {timeout} s: is a cpu worker consuming queue {settings.CPU_WORK_QUEUE!r} "
            "(python -m tradingweb.worker cpu)? CHART_RENDER_TIMEOUT_SECONDS sets the wait"
        ) from error
    return Chart.objects.get(pk=chart_id)
