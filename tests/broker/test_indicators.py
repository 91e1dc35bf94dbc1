"""Indicators match hand-computed values, and short data leaves indicators out with a warning."""

import json

import numpy as np
import pandas as pd
import pytest

from broker.indicators import compute_indicators, indicator_summary, supertrend


def bars_from_closes(closes, spread=1.0):
    closes = np.asarray(closes, dtype=float)
    index = pd.date_range("2025-01-01", periods=closes.size, freq="D", tz="UTC")
    return pd.DataFrame(
        {"open": closes, "high": closes + spread, "low": closes - spread, "close": closes, "volume": 1000.0},
        index=index,
    )


def test_moving_averages_match_hand_computed_values():
    frame = compute_indicators(bars_from_closes(range(1, 31)), ["sma", "ema"]).frame

    assert frame["sma_20"].iloc[-1] == pytest.approx(np.mean(range(11, 31)))  # 20.5
    assert frame["sma_20"].iloc[18] != frame["sma_20"].iloc[18]  # NaN before 20 bars
    # TA-Lib seeds the EMA with the SMA of the first 12 closes, then k = 2 / 13.
    ema = np.mean(range(1, 13))
    for close in range(13, 31):
        ema += (close - ema) * 2 / 13
    assert frame["ema_12"].iloc[-1] == pytest.approx(ema)


def test_flat_prices_give_flat_indicators():
    frame = compute_indicators(bars_from_closes([50.0] * 60)).frame.iloc[-1]

    assert frame["macd"] == pytest.approx(0) and frame["macd_hist"] == pytest.approx(0)
    assert frame["bb_upper"] == pytest.approx(50) == frame["bb_lower"]
    assert frame["atr_14"] == pytest.approx(2.0)  # every bar spans 49..51 with no gaps


def test_rsi_is_100_when_prices_only_rise_and_0_when_they_only_fall():
    assert compute_indicators(bars_from_closes(range(1, 40)), ["rsi"]).frame["rsi_14"].iloc[-1] == pytest.approx(100)
    assert compute_indicators(bars_from_closes(range(40, 1, -1)), ["rsi"]).frame["rsi_14"].iloc[-1] == pytest.approx(0)


def test_too_little_data_leaves_indicators_out_with_warnings():
    result = compute_indicators(bars_from_closes(range(1, 13)))

    assert "sma_20" not in result.frame and "macd" not in result.frame and "rsi_14" not in result.frame
    assert "ema_12" in result.frame and "supertrend" in result.frame
    assert any("SMA 200" in warning and "12 available" in warning for warning in result.warnings)
    assert any("MACD" in warning for warning in result.warnings)


def test_it_refuses_unknown_indicator_names():
    with pytest.raises(ValueError, match="ichimoku"):
        compute_indicators(bars_from_closes(range(1, 30)), ["ichimoku"])


def test_supertrend_follows_a_rise_then_flips_once_on_the_fall():
    closes = np.concatenate([np.linspace(100, 160, 40), np.linspace(158, 100, 30)])
    bars = bars_from_closes(closes, spread=2.0)
    result = supertrend(*(bars[c].to_numpy() for c in ("high", "low", "close")), period=10, multiplier=3.0)
    direction, line, flips = result["direction"], result["supertrend"], result["flip"]

    assert direction[:10].tolist() == [0] * 10  # ATR(10) needs ten bars first
    assert (direction[10:40] == 1).all()
    assert np.flatnonzero(flips).size == 1 and flips[flips != 0][0] == -1
    flip_at = int(np.flatnonzero(flips)[0])
    assert 40 < flip_at < 55
    assert (direction[flip_at:] == -1).all()
    assert (line[10:flip_at] <= closes[10:flip_at]).all()  # support under the price while up
    assert (line[flip_at:] > closes[flip_at:]).all()  # resistance over it while down
    lower_while_up = result["lower"][11:flip_at]
    assert (np.diff(lower_while_up) >= 0).all()  # the trailing band only ratchets up


def test_a_rally_after_a_decline_is_a_golden_cross_in_the_summary():
    closes = np.concatenate([np.linspace(200, 100, 220), np.linspace(100, 260, 120)])
    summary = indicator_summary(bars_from_closes(closes))

    assert summary["crosses"][-1]["type"] == "golden"
    assert summary["trend"] == "up"
    assert summary["indicators"]["supertrend"]["direction"] == "up"
    assert summary["indicators"]["rsi"]["zone"] == "overbought"


def test_the_summary_is_plain_json_with_levels():
    bars = bars_from_closes(100 + np.sin(np.arange(80) / 5) * 10)
    summary = indicator_summary(bars, ["sma", "atr", "supertrend"])

    assert json.loads(json.dumps(summary)) == summary
    assert summary["last_close"] == pytest.approx(bars["close"].iloc[-1], abs=1e-4)
    assert summary["support"] == pytest.approx(bars["low"].tail(20).min(), abs=1e-4)
    assert summary["resistance"] == pytest.approx(bars["high"].tail(20).max(), abs=1e-4)
    assert summary["atr14"] > 0
    assert set(summary["indicators"]) == {"sma", "atr", "supertrend"}
    assert summary["date_range"]["start"].startswith("2025-01-01")
    assert any("SMA 200" in warning for warning in summary["warnings"])
