"""The simulated exchange's price paths are deterministic, plausible and consistent across bar sizes."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from broker.simulation import conid_for, generate_bars, minute_bars

END = datetime(2026, 11, 25, 11, 22, tzinfo=UTC)  # a Wednesday


def test_it_repeats_the_same_bars_for_the_same_symbol_and_seed():
    assert generate_bars("AAPL", "1y", "1d", seed=7, end=END) == generate_bars("AAPL", "1y", "1d", seed=7, end=END)


def test_it_gives_different_symbols_and_seeds_different_paths():
    closes = {
        key: [bar["c"] for bar in generate_bars(symbol, "3m", "1d", seed=seed, end=END)]
        for key, (symbol, seed) in {"a": ("AAPL", 7), "m": ("MSFT", 7), "a2": ("AAPL", 8)}.items()
    }
    assert closes["a"] != closes["m"]
    assert closes["a"] != closes["a2"]


def test_it_derives_a_stable_conid_from_the_symbol():
    assert conid_for("AAPL") == conid_for("aapl") != conid_for("MSFT")


@pytest.mark.parametrize(
    ("period", "bar", "expected"),
    [("5d", "1d", 5), ("1y", "1d", 260), ("5y", "1d", 1300), ("1y", "1w", 52), ("2y", "1M", 24), ("1d", "1h", 24)],
)
def test_it_covers_the_period_with_completed_bars(period, bar, expected):
    bars = generate_bars("SPY", period, bar, seed=1, end=END)
    assert abs(len(bars) - expected) <= max(2, expected // 100)
    times = [datetime.fromisoformat(b["t"]) for b in bars]
    assert times == sorted(times)
    assert times[-1] < END


def test_bars_are_well_formed():
    for bar in generate_bars("TSLA", "2y", "1d", seed=3, end=END):
        assert bar["l"] <= min(bar["o"], bar["c"]) <= max(bar["o"], bar["c"]) <= bar["h"]
        assert bar["v"] > 0
        assert datetime.fromisoformat(bar["t"]).weekday() < 5


def test_calls_within_one_bar_agree():
    later_in_the_hour = END.replace(minute=59)
    assert (
        generate_bars("AAPL", "5d", "1h", seed=1, end=END)[-1]
        == generate_bars("AAPL", "5d", "1h", seed=1, end=later_in_the_hour)[-1]
    )
    assert generate_bars("AAPL", "1y", "1d", seed=1, end=END) == generate_bars(
        "AAPL", "1y", "1d", seed=1, end=END.replace(hour=23)
    )


def test_weekly_bars_start_on_mondays_and_monthly_on_the_first():
    assert {datetime.fromisoformat(b["t"]).weekday() for b in generate_bars("AAPL", "1y", "1w", seed=1, end=END)} == {0}
    assert {datetime.fromisoformat(b["t"]).day for b in generate_bars("AAPL", "1y", "1M", seed=1, end=END)} == {1}


def test_a_daily_bar_is_made_of_that_days_minutes():
    daily = generate_bars("NVDA", "5d", "1d", seed=5, end=END)[-1]
    day = datetime.fromisoformat(daily["t"])
    minutes = minute_bars("NVDA", day, day + timedelta(days=1), seed=5)
    assert minutes["t"].size == 1440
    assert daily["o"] == minutes["o"][0] and daily["c"] == minutes["c"][-1]
    assert daily["h"] == minutes["h"].max() and daily["l"] == minutes["l"].min()
    assert daily["v"] == minutes["v"].sum()


def test_prices_move_like_a_stock():
    closes = np.array([b["c"] for b in generate_bars("AAPL", "5y", "1d", seed=42, end=END)])
    returns = np.diff(np.log(closes))
    annual_vol = returns.std() * np.sqrt(252)
    assert 0.05 < annual_vol < 1.0
    assert np.abs(returns).max() > 3 * returns.std()  # fat tails: jumps and gaps happen
    assert closes.max() / closes.min() < 20


def test_it_refuses_unknown_periods_and_bar_sizes():
    with pytest.raises(ValueError, match="period"):
        generate_bars("AAPL", "forever", "1d", end=END)
    with pytest.raises(ValueError, match="bar size"):
        generate_bars("AAPL", "1y", "3d", end=END)
    with pytest.raises(ValueError, match="more than"):
        generate_bars("AAPL", "5y", "1min", end=END)
