"""Indicator cost on 5,000 bars: every TA-Lib indicator we use beside the SuperTrend loop.

    .venv/bin/python bench/indicators.py [--bars 5000] [--repeat 20]

Bars are simulated 1-hour bars (deterministic), so the figures compare runs. Prints the
median time of each TA-Lib call, of SuperTrend (talib.ATR plus the band/flip loop in
Python), of the whole compute_indicators() and of indicator_summary().
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # not bench/: bench/queue.py shadows the stdlib queue
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradingweb.settings")

import django  # noqa: E402

django.setup()

import talib  # noqa: E402

from broker.indicators import compute_indicators, indicator_summary, supertrend  # noqa: E402
from broker.marketdata import bars_to_frame  # noqa: E402
from broker.simulation import generate_bars  # noqa: E402


def median_ms(work, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    end = datetime(2026, 11, 25, tzinfo=UTC)
    frame = bars_to_frame(generate_bars("AAPL", "2y", "1h", seed=42, end=end))[-args.bars :]
    high, low, close = (frame[c].to_numpy() for c in ("high", "low", "close"))
    print(f"{len(frame)} bars of 1h AAPL (simulated), median of {args.repeat} runs")

    talib_calls = {
        "SMA 20/50/200": lambda: [talib.SMA(close, timeperiod=p) for p in (20, 50, 200)],
        "EMA 12/26": lambda: [talib.EMA(close, timeperiod=p) for p in (12, 26)],
        "MACD 12/26/9": lambda: talib.MACD(close, 12, 26, 9),
        "RSI 14": lambda: talib.RSI(close, timeperiod=14),
        "BBANDS 20/2": lambda: talib.BBANDS(close, timeperiod=20, nbdevup=2, nbdevdn=2),
        "ATR 14": lambda: talib.ATR(high, low, close, timeperiod=14),
    }
    total_talib = 0.0
    for name, work in talib_calls.items():
        elapsed = median_ms(work, args.repeat)
        total_talib += elapsed
        print(f"  TA-Lib {name:<16} {elapsed:8.3f} ms")
    print(f"  TA-Lib set, total        {total_talib:8.3f} ms")
    print(f"  SuperTrend 10/3          {median_ms(lambda: supertrend(high, low, close), args.repeat):8.3f} ms")
    print(f"  compute_indicators(all)  {median_ms(lambda: compute_indicators(frame), args.repeat):8.3f} ms")
    print(f"  indicator_summary(all)   {median_ms(lambda: indicator_summary(frame), args.repeat):8.3f} ms")


if __name__ == "__main__":
    main()
