"""Bars and indicator series of an instrument, shaped for the interactive charts page.

Market data has no owner: any signed-in user may chart any known instrument. Times are UNIX
seconds (UTC), what lightweight-charts expects; prices are floats because they only draw.
"""

import math
from dataclasses import dataclass

from broker.indicators import compute_indicators
from broker.marketdata import get_bars
from broker.models import Instrument


@dataclass(frozen=True)
class Timeframe:
    key: str
    label: str
    period: str
    bar: str


TIMEFRAMES = {
    timeframe.key: timeframe
    for timeframe in (
        Timeframe("5d-15min", "5 days · 15 minutes", "5d", "15min"),
        Timeframe("1m-1h", "1 month · hourly", "1m", "1h"),
        Timeframe("6m-1d", "6 months · daily", "6m", "1d"),
        Timeframe("1y-1d", "1 year · daily", "1y", "1d"),
        Timeframe("2y-1d", "2 years · daily", "2y", "1d"),
        Timeframe("5y-1w", "5 years · weekly", "5y", "1w"),
    )
}
DEFAULT_TIMEFRAME = "1y-1d"
DAILY, WEEKLY = "1y-1d", "5y-1w"
CHART_INDICATORS = ["sma", "bollinger", "supertrend", "rsi", "macd"]
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
# Columns that describe a line rather than being one.
NOT_LINES = {"supertrend_direction", "supertrend_flip"}


def timeframe_for(key: str) -> Timeframe:
    """The timeframe for a key; ValueError naming the choices when there is none."""
    try:
        return TIMEFRAMES[key]
    except KeyError:
        raise ValueError(f"Unknown timeframe {key!r}; choose one of {', '.join(TIMEFRAMES)}") from None


def _number(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, 4)


def chart_series(instrument: Instrument, timeframe: Timeframe) -> dict:
    """Candles, volume and every indicator line of `instrument` over `timeframe`.

    Broker errors propagate (no made-up data); indicators that need more bars than there are
    are left out and named in `warnings`.
    """
    bars = get_bars(instrument, timeframe.period, timeframe.bar)
    result = compute_indicators(bars, CHART_INDICATORS)
    frame = result.frame
    times = [int(moment.timestamp()) for moment in frame.index]
    rows = list(zip(times, *(frame[column].tolist() for column in PRICE_COLUMNS), strict=True))
    candles = [{"time": t, "open": o, "high": h, "low": low, "close": c} for t, o, h, low, c, _ in rows]
    volume = [{"time": t, "value": v, "up": c >= o} for t, o, _, _, c, v in rows]
    lines = {}
    for column in frame.columns:
        if column in PRICE_COLUMNS or column in NOT_LINES:
            continue
        points = [{"time": t, "value": _number(value)} for t, value in zip(times, frame[column].tolist(), strict=True)]
        lines[column] = [point for point in points if point["value"] is not None]
    if "supertrend" in lines:
        directions = dict(zip(times, frame["supertrend_direction"].tolist(), strict=True))
        for point in lines["supertrend"]:
            point["up"] = directions[point["time"]] > 0
    return {
        "symbol": instrument.symbol,
        "conid": instrument.conid,
        "timeframe": timeframe.key,
        "label": timeframe.label,
        "period": timeframe.period,
        "bar": timeframe.bar,
        "candles": candles,
        "volume": volume,
        "lines": lines,
        "warnings": result.warnings,
    }
