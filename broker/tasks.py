"""Broker work that other workers send by name (execution/dispatch.py): thin wrappers over broker modules."""

from celery import shared_task

from broker.charts import chart_content_key, draw_chart
from broker.marketdata import thawed_bars
from broker.models import Instrument


@shared_task(name="broker.render_chart")
def render_chart_task(
    instrument_id: int, period: str, bar: str, bars: dict, indicators: list[str] | None, width: int, height: int
) -> int:
    """Draws one chart in a cpu worker from plain JSON (frozen bars) and returns the Chart row's id.

    The sender holds the content's lock while it waits (execution.dispatch.render_chart), so this draws.
    """
    instrument = Instrument.objects.get(pk=instrument_id)
    frame = thawed_bars(bars)
    key = chart_content_key(instrument, period, bar, frame, indicators, width, height)
    return draw_chart(instrument, period, bar, frame, indicators, width, height, key).pk
