"""The offline analyst reading summaries made by broker.indicators from (synthetic) bars."""

import numpy as np
import pandas as pd
import pytest

from agents.decisions import parse_decision
from agents.offline import OfflineAnalyst
from agents.prompts import analysis_prompt, decision_prompt
from broker.indicators import indicator_summary


def trending_bars(drift: float, bars: int = 300, seed: int = 7, freq: str = "D") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(drift + rng.normal(0, 0.01, bars)))
    index = pd.date_range("2024-01-01", periods=bars, freq=freq, tz="UTC")
    return pd.DataFrame(
        {
            "open": np.r_[close[0], close[:-1]],
            "high": close * (1 + rng.uniform(0.002, 0.01, bars)),
            "low": close * (1 - rng.uniform(0.002, 0.01, bars)),
            "close": close,
            "volume": 1e6,
        },
        index=index,
    )


RISING = indicator_summary(trending_bars(0.003))
FALLING = indicator_summary(trending_bars(-0.003))


def decide_offline(summaries: dict) -> dict:
    first = next(iter(summaries.values()))
    prompt = decision_prompt(symbol="SPY", analysis="-", current_price=first["last_close"], summaries=summaries)
    return parse_decision(OfflineAnalyst().answer(prompt, decision=True))


def test_it_buys_a_rising_market_with_consistent_levels():
    decision = decide_offline({"1d": RISING})
    assert decision["decision"] == "BUY"
    assert decision["stop_loss"] < decision["current_price"] < decision["target_price"]
    assert any("SuperTrend points up" in factor for factor in decision["key_factors"])


def test_it_sells_a_falling_market_with_consistent_levels():
    decision = decide_offline({"1d": FALLING})
    assert decision["decision"] == "SELL"
    assert decision["target_price"] < decision["current_price"] < decision["stop_loss"]


def test_it_holds_when_daily_and_weekly_disagree():
    assert decide_offline({"1d": RISING, "1w": FALLING})["decision"] == "HOLD"


@pytest.mark.parametrize("summary", [RISING, FALLING], ids=["rising", "falling"])
def test_it_reads_every_indicator_of_the_real_summary(summary):
    text = OfflineAnalyst().answer(analysis_prompt(symbol="SPY", timeframe="1d", summary=summary), decision=False)
    for reading in ("SMA20", "SMA50", "SMA200", "SuperTrend", "MACD", "RSI", "ATR(14)", "Bollinger", "Support"):
        assert reading in text, reading
    assert "No ATR was given" not in text
