"""fetch_data and generate_chart: bars with indicators, and the chart image of them."""

import hashlib

import pandas as pd

from broker.indicators import indicator_summary
from broker.marketdata import frozen_bars
from execution.dispatch import ChartRenderTimeout
from execution.steps.base import StepError, SymbolContext
from execution.steps.inputs import ChartRequest
from workflows.steps import STEP_TYPES


def bars_sha256(bars: pd.DataFrame) -> str:
    """A fingerprint of the bars an analysis saw, so a replay can tell whether it has the same data."""
    return hashlib.sha256(pd.util.hash_pandas_object(bars, index=True).values.tobytes()).hexdigest()


def _timestamp(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def fetch_data(config: dict, ctx: SymbolContext) -> dict:
    label = STEP_TYPES["fetch_data"].output_label(config)
    period, bar = config["period"], config["bar"]
    indicators = list(config.get("indicators") or []) or None
    instrument = ctx.get_instrument()
    bars = ctx.inputs.bars(ctx, period, bar)
    if bars is None or bars.empty:
        raise StepError(f"no {period}/{bar} bars for {ctx.symbol}")
    summary = indicator_summary(bars, indicators)
    with ctx.lock:
        ctx.bars[label] = bars
        ctx.fetches[label] = {
            "label": label,
            "index": ctx.step_index,
            "period": period,
            "bar": bar,
            "indicators": indicators,
            "summary": summary,
        }
    return {
        "label": label,
        "conid": instrument.conid,
        "period": period,
        "bar": bar,
        "bars": len(bars),
        "first_bar": _timestamp(bars.index[0]),
        "last_bar": _timestamp(bars.index[-1]),
        "last_close": float(bars["close"].iloc[-1]),
        "bars_sha256": bars_sha256(bars),
        "indicators": indicators or "all",
        "summary": summary,
        "frozen_bars": frozen_bars(bars),
    }


def generate_chart(config: dict, ctx: SymbolContext) -> dict:
    label = STEP_TYPES["generate_chart"].output_label(config)
    source = config["source"]
    fetch = ctx.fetch(source)
    with ctx.lock:
        bars = ctx.bars[source]
    request = ChartRequest(
        period=fetch["period"],
        bar=fetch["bar"],
        bars=bars,
        indicators=list(config.get("indicators") or []) or None,
        width=config.get("width") or None,
        height=config.get("height") or None,
    )
    try:
        chart = ctx.inputs.chart(ctx, request)
    except ChartRenderTimeout as error:
        raise StepError(str(error)) from error
    with ctx.lock:
        ctx.charts[label] = chart
        ctx.chart_sources[label] = source
    return {
        "label": label,
        "source": source,
        "chart_id": chart.pk,
        "chart_url": chart.image_url(),
        "sha256": chart.sha256,
        "width": chart.width,
        "height": chart.height,
    }
