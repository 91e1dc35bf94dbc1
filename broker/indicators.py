"""Technical indicators on OHLCV bars, computed with TA-Lib, and the summary prompts embed.

Every indicator needs a minimum number of bars; with fewer, that indicator (or that one
moving average) is left out and a warning says why. Nothing here raises for short data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import talib

INDICATORS = ("sma", "ema", "macd", "rsi", "bollinger", "atr", "supertrend")
SMA_PERIODS = (20, 50, 200)
EMA_PERIODS = (12, 26)
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
RSI_PERIOD = 14
RSI_OVERSOLD, RSI_OVERBOUGHT = 30, 70
BOLLINGER_PERIOD, BOLLINGER_DEVIATIONS = 20, 2.0
ATR_PERIOD = 14
SUPERTREND_PERIOD, SUPERTREND_MULTIPLIER = 10, 3.0
SUPPORT_RESISTANCE_BARS = 20
REQUIRED_COLUMNS = ("open", "high", "low", "close", "volume")


@dataclass
class IndicatorResult:
    frame: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def _check_names(names: list[str] | None) -> list[str]:
    if names is None:
        return list(INDICATORS)
    unknown = [name for name in names if name not in INDICATORS]
    if unknown:
        raise ValueError(f"Unknown indicator(s) {', '.join(unknown)}; choose from {', '.join(INDICATORS)}")
    return list(dict.fromkeys(names))


def _enough(bars: int, needed: int, label: str, warnings: list[str]) -> bool:
    if bars >= needed:
        return True
    warnings.append(f"{label} left out: it needs {needed} bars, only {bars} available")
    return False


def supertrend(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    period: int = SUPERTREND_PERIOD,
    multiplier: float = SUPERTREND_MULTIPLIER,
) -> dict[str, np.ndarray]:
    """SuperTrend on top of talib.ATR: line, direction (1 up, -1 down, 0 before it starts), flips, bands.

    The bands ratchet: the lower band only rises while the trend is up and the upper band only
    falls while it is down; the trend flips when the close crosses the opposite band.
    """
    atr = talib.ATR(high, low, close, timeperiod=period)
    middle = (high + low) / 2
    basic_upper, basic_lower = middle + multiplier * atr, middle - multiplier * atr
    size = close.size
    line, flips = np.full(size, np.nan), np.zeros(size, dtype=int)
    started = np.flatnonzero(~np.isnan(atr))
    if started.size == 0:
        empty = np.full(size, np.nan)
        return {
            "supertrend": line,
            "direction": np.zeros(size, dtype=int),
            "flip": flips,
            "upper": empty,
            "lower": empty,
        }
    first = int(started[0])
    # Plain Python floats in the loop: indexing numpy arrays one element at a time is ~5x slower.
    bu, bl, closes = basic_upper.tolist(), basic_lower.tolist(), close.tolist()
    up, lo = [math.nan] * size, [math.nan] * size
    trend = [0] * size
    up[first], lo[first] = bu[first], bl[first]
    trend[first] = 1 if closes[first] >= middle[first] else -1
    for i in range(first + 1, size):
        up[i] = up[i - 1] if bu[i] > up[i - 1] and closes[i - 1] <= up[i - 1] else bu[i]
        lo[i] = lo[i - 1] if bl[i] < lo[i - 1] and closes[i - 1] >= lo[i - 1] else bl[i]
        if trend[i - 1] < 0 and closes[i] > up[i]:
            trend[i] = 1
        elif trend[i - 1] > 0 and closes[i] < lo[i]:
            trend[i] = -1
        else:
            trend[i] = trend[i - 1]
    upper, lower, direction = np.array(up), np.array(lo), np.array(trend, dtype=int)
    flips[first + 1 :] = np.where(direction[first + 1 :] != direction[first:-1], direction[first + 1 :], 0)
    line[first:] = np.where(direction[first:] > 0, lower[first:], upper[first:])
    return {"supertrend": line, "direction": direction, "flip": flips, "upper": upper, "lower": lower}


def compute_indicators(bars: pd.DataFrame, names: list[str] | None = None) -> IndicatorResult:
    """The bars plus one column per indicator value; warnings for indicators left out for lack of data."""
    missing = [column for column in REQUIRED_COLUMNS if column not in bars.columns]
    if missing:
        raise ValueError(f"Bars lack column(s) {', '.join(missing)}")
    names = _check_names(names)
    frame = bars.copy()
    warnings: list[str] = []
    high, low, close = (frame[c].to_numpy(dtype=float) for c in ("high", "low", "close"))
    count = close.size

    if "sma" in names:
        for period in SMA_PERIODS:
            if _enough(count, period, f"SMA {period}", warnings):
                frame[f"sma_{period}"] = talib.SMA(close, timeperiod=period)
    if "ema" in names:
        for period in EMA_PERIODS:
            if _enough(count, period, f"EMA {period}", warnings):
                frame[f"ema_{period}"] = talib.EMA(close, timeperiod=period)
    if "macd" in names and _enough(count, MACD_SLOW + MACD_SIGNAL - 1, "MACD (12, 26, 9)", warnings):
        macd, signal, histogram = talib.MACD(
            close, fastperiod=MACD_FAST, slowperiod=MACD_SLOW, signalperiod=MACD_SIGNAL
        )
        frame["macd"], frame["macd_signal"], frame["macd_hist"] = macd, signal, histogram
    if "rsi" in names and _enough(count, RSI_PERIOD + 1, f"RSI {RSI_PERIOD}", warnings):
        frame[f"rsi_{RSI_PERIOD}"] = talib.RSI(close, timeperiod=RSI_PERIOD)
    if "bollinger" in names and _enough(count, BOLLINGER_PERIOD, "Bollinger Bands (20, 2)", warnings):
        upper, middle, lower = talib.BBANDS(
            close, timeperiod=BOLLINGER_PERIOD, nbdevup=BOLLINGER_DEVIATIONS, nbdevdn=BOLLINGER_DEVIATIONS
        )
        frame["bb_upper"], frame["bb_middle"], frame["bb_lower"] = upper, middle, lower
    if "atr" in names and _enough(count, ATR_PERIOD + 1, f"ATR {ATR_PERIOD}", warnings):
        frame[f"atr_{ATR_PERIOD}"] = talib.ATR(high, low, close, timeperiod=ATR_PERIOD)
    if "supertrend" in names and _enough(count, SUPERTREND_PERIOD + 1, "SuperTrend (10, 3)", warnings):
        result = supertrend(high, low, close)
        frame["supertrend"] = result["supertrend"]
        frame["supertrend_direction"] = result["direction"]
        frame["supertrend_flip"] = result["flip"]
    return IndicatorResult(frame=frame, warnings=warnings)


def moving_average_crosses(frame: pd.DataFrame, fast: str = "sma_50", slow: str = "sma_200") -> list[dict]:
    """Golden (fast crosses above slow) and death (below) crosses, oldest first."""
    if fast not in frame or slow not in frame:
        return []
    valid = frame[fast].notna() & frame[slow].notna()
    above = (frame[fast] > frame[slow])[valid]
    changes = above[above.ne(above.shift())].iloc[1:]  # the first valid bar is a start, not a cross
    return [{"type": "golden" if is_above else "death", "time": _iso(moment)} for moment, is_above in changes.items()]


def _iso(moment) -> str:
    return pd.Timestamp(moment).isoformat()


def _number(value) -> float | None:
    """A JSON-safe float (None for NaN), rounded to 4 decimals."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else round(value, 4)


def _last(frame: pd.DataFrame, column: str) -> float | None:
    return _number(frame[column].iloc[-1]) if column in frame else None


def _trend(frame: pd.DataFrame) -> str:
    """up / down / sideways from the moving averages, falling back to SuperTrend."""
    close = float(frame["close"].iloc[-1])
    sma50, sma200, sma20 = _last(frame, "sma_50"), _last(frame, "sma_200"), _last(frame, "sma_20")
    if sma50 is not None and sma200 is not None:
        if close > sma50 > sma200:
            return "up"
        if close < sma50 < sma200:
            return "down"
        return "sideways"
    if sma20 is not None and len(frame) > 25:
        slope = sma20 - float(frame["sma_20"].iloc[-6])
        if close > sma20 and slope > 0:
            return "up"
        if close < sma20 and slope < 0:
            return "down"
        return "sideways"
    if "supertrend_direction" in frame:
        return "up" if frame["supertrend_direction"].iloc[-1] > 0 else "down"
    return "sideways"


def _indicator_values(frame: pd.DataFrame, names: list[str]) -> dict:
    values: dict[str, dict] = {}
    if "sma" in names:
        values["sma"] = {f"sma_{p}": _last(frame, f"sma_{p}") for p in SMA_PERIODS if f"sma_{p}" in frame}
    if "ema" in names:
        values["ema"] = {f"ema_{p}": _last(frame, f"ema_{p}") for p in EMA_PERIODS if f"ema_{p}" in frame}
    if "macd" in frame:
        values["macd"] = {
            "macd": _last(frame, "macd"),
            "signal": _last(frame, "macd_signal"),
            "histogram": _last(frame, "macd_hist"),
            "bullish": bool(frame["macd"].iloc[-1] > frame["macd_signal"].iloc[-1]),
        }
    rsi = _last(frame, f"rsi_{RSI_PERIOD}")
    if rsi is not None:
        zone = "overbought" if rsi > RSI_OVERBOUGHT else "oversold" if rsi < RSI_OVERSOLD else "neutral"
        values["rsi"] = {f"rsi_{RSI_PERIOD}": rsi, "zone": zone}
    if "bb_upper" in frame:
        upper, middle, lower = _last(frame, "bb_upper"), _last(frame, "bb_middle"), _last(frame, "bb_lower")
        close = float(frame["close"].iloc[-1])
        width = (upper - lower) if upper is not None and lower is not None else None
        values["bollinger"] = {
            "upper": upper,
            "middle": middle,
            "lower": lower,
            "percent_b": _number((close - lower) / width) if width else None,
        }
    if f"atr_{ATR_PERIOD}" in frame:
        values["atr"] = {f"atr_{ATR_PERIOD}": _last(frame, f"atr_{ATR_PERIOD}")}
    if "supertrend" in frame:
        flips = frame.loc[frame["supertrend_flip"] != 0, "supertrend_flip"]
        values["supertrend"] = {
            "value": _last(frame, "supertrend"),
            "direction": "up" if frame["supertrend_direction"].iloc[-1] > 0 else "down",
            "last_flip": (
                {"time": _iso(flips.index[-1]), "to": "up" if flips.iloc[-1] > 0 else "down"} if len(flips) else None
            ),
        }
    return values


def indicator_summary(bars: pd.DataFrame, names: list[str] | None = None) -> dict:
    """A JSON-serializable digest of the bars and their indicators, for prompts and the risk check."""
    names = _check_names(names)
    result = compute_indicators(bars, names)
    frame = result.frame
    if frame.empty:
        return {"bars": 0, "warnings": [*result.warnings, "No bars: nothing to summarise"]}
    close = frame["close"]
    recent = frame.tail(SUPPORT_RESISTANCE_BARS)
    atr14 = talib.ATR(*(frame[c].to_numpy(dtype=float) for c in ("high", "low", "close")), timeperiod=ATR_PERIOD)
    return {
        "bars": len(frame),
        "last_close": _number(close.iloc[-1]),
        "last_time": _iso(frame.index[-1]),
        "date_range": {"start": _iso(frame.index[0]), "end": _iso(frame.index[-1])},
        "change_pct": _number((close.iloc[-1] / close.iloc[0] - 1) * 100),
        "trend": _trend(frame),
        "indicators": _indicator_values(frame, names),
        "crosses": moving_average_crosses(frame)[-5:],
        "atr14": _number(atr14[-1]) if atr14.size else None,
        "support": _number(recent["low"].min()),
        "resistance": _number(recent["high"].max()),
        "warnings": result.warnings,
    }
