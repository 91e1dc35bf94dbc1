"""A walk-forward backtest with the offline analyst: wall time against the time spent drawing charts.

    .venv/bin/python bench/backtest.py [--points 250] [--symbols 10] [--width 960 --height 540]

The workflow is the Single Timeframe template (1y of daily bars, one chart, analysis, decision,
risk check, market order) over `--points` daily decision points and `--symbols` simulated symbols.
It prints the number of charts, the seconds spent drawing them, the wall time and what the rest
(bars, indicators, the steps, the ledger's matching, the rolled-back rows) costs per symbol and point.
Points run one after another in one process, so the target is wall ≈ charts × chart time; running
chunks of points in parallel would divide it by the cores. Runs against a throwaway SQLite database
in a temp dir; set BENCH_DATABASE_URL to measure on PostgreSQL instead.
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: bench/queue.py would shadow the standard library's queue
WORKDIR = tempfile.mkdtemp(prefix="tw-bench-backtest-")
os.environ["VAR_DIR"] = WORKDIR
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{WORKDIR}/bench.sqlite3"
os.environ["REDIS_URL"] = ""
os.environ["LLM_PROVIDER"] = "offline"
os.environ["BROKER_ADAPTER"] = "simulated"
os.environ["LOG_LEVEL"] = "WARNING"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradingweb.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

from execution.backtests.engine import BacktestRun, PointInTimeInputs  # noqa: E402
from execution.backtests.services import backtest_create  # noqa: E402
from workflows.services import strategy_create, workflow_create  # noqa: E402
from workflows.templates import BUILTIN_TEMPLATES  # noqa: E402

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "JPM", "XOM", "KO", "PEP", "WMT"]
FIRST_DAY = date(2023, 1, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=250)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--width", type=int, default=960)
    parser.add_argument("--height", type=int, default=540)
    args = parser.parse_args()
    settings.CHART_WIDTH, settings.CHART_HEIGHT = args.width, args.height
    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("bench")
    template = next(t for t in BUILTIN_TEMPLATES if t["type"] == "single_timeframe")
    workflow = workflow_create(owner=owner, name="Bench", steps=template["steps"], parameters=template["parameters"],
                               type=template["type"])  # fmt: skip
    strategy = strategy_create(owner=owner, name="Bench", workflow=workflow, symbols=SYMBOLS[: args.symbols], params={})
    end = FIRST_DAY
    while sum(1 for n in range((end - FIRST_DAY).days + 1) if (FIRST_DAY + timedelta(n)).weekday() < 5) < args.points:
        end += timedelta(days=1)
    backtest = backtest_create(owner=owner, workflow=workflow, strategy=strategy, start=FIRST_DAY, end=end, every="1d",
                               model="", initial_cash=Decimal("1000000"), commission=Decimal("0.005"),
                               slippage_bps=Decimal("2"))  # fmt: skip
    drawing = {"charts": 0, "seconds": 0.0}
    draw = PointInTimeInputs.chart

    def timed_chart(self, ctx, request):
        started = time.perf_counter()
        try:
            return draw(self, ctx, request)
        finally:
            drawing["charts"] += 1
            drawing["seconds"] += time.perf_counter() - started

    PointInTimeInputs.chart = timed_chart
    started = time.perf_counter()
    backtest = BacktestRun(backtest).run()
    wall = time.perf_counter() - started
    runs = backtest.results["points_done"] * args.symbols
    charts, chart_seconds, cores = drawing["charts"], drawing["seconds"], os.cpu_count() or 1
    rest = wall - chart_seconds
    print(
        f"backtest {backtest.status}: {backtest.results['points_done']} points x {args.symbols} symbols, "
        f"{backtest.results['figures']['trades']} trades, {backtest.model_calls} offline model calls"
    )
    print(
        f"charts: {charts} in {chart_seconds:.1f} s ({chart_seconds / max(charts, 1) * 1000:.0f} ms each, "
        f"{args.width}x{args.height})"
    )
    print(
        f"wall: {wall:.1f} s; charts are {chart_seconds / wall * 100:.0f} % of it; the rest {rest:.1f} s = "
        f"{rest / max(runs, 1) * 1000:.0f} ms per symbol and point"
    )
    print(
        f"charts x chart time / cores ({cores}): {chart_seconds / cores:.1f} s, the target with parallel chunks"
    )


if __name__ == "__main__":
    main()
