"""Chart render time: our full chart beside a plain mplfinance candlestick of the same bars.

    .venv/bin/python bench/charts.py [--bars 500] [--repeat 3] [--width 1920] [--height 1080]

Both render PNG bytes in memory (no storage). Ours adds indicators (TA-Lib + SuperTrend),
overlays, volume, MACD and RSI panels; the plain one is candles and volume at the same size.
"""

import argparse
import io
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

import matplotlib.pyplot as plt  # noqa: E402
import mplfinance as mpf  # noqa: E402

from broker.charts import DPI, render_png  # noqa: E402
from broker.marketdata import bars_to_frame  # noqa: E402
from broker.simulation import generate_bars  # noqa: E402


def plain_png(frame, width: int, height: int) -> bytes:
    figure, _ = mpf.plot(
        frame,
        type="candle",
        volume=True,
        figsize=(width / DPI, height / DPI),
        returnfig=True,
        warn_too_much_data=len(frame) + 1,
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    return buffer.getvalue()


def timed(work, repeat: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        size = len(work())
        times.append(time.perf_counter() - started)
    return statistics.median(times), size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args()

    end = datetime(2026, 11, 25, tzinfo=UTC)
    frame = bars_to_frame(generate_bars("AAPL", "5y", "1d", seed=42, end=end))[-args.bars :]
    plain_frame = frame.copy()
    plain_frame.index = plain_frame.index.tz_convert(None)
    render_png("AAPL", "5y", "1d", frame, None, args.width, args.height)  # warm up fonts and caches

    ours, ours_size = timed(lambda: render_png("AAPL", "5y", "1d", frame, None, args.width, args.height), args.repeat)
    plain, plain_size = timed(lambda: plain_png(plain_frame, args.width, args.height), args.repeat)
    print(f"{len(frame)} daily bars, {args.width}x{args.height} PNG, median of {args.repeat} renders")
    print(f"  tradingweb chart (all indicators, 4 panels)  {ours * 1000:8.1f} ms  {ours_size / 1024:7.1f} KiB")
    print(f"  plain mplfinance candles + volume            {plain * 1000:8.1f} ms  {plain_size / 1024:7.1f} KiB")
    print(f"  ratio                                        {ours / plain:8.2f} x")


if __name__ == "__main__":
    main()
