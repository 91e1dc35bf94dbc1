"""IBKR pacing: how long daily bars for many symbols take through the gateway simulator.

    .venv/bin/python bench/ibkr_pacing.py [--symbols 300] [--threads 10]

Starts the gateway simulator with --enforce-pacing (IBKR's rules: the hard limits for bars of
30 s or less, 50 requests in flight and 50 messages a second for everything) and fetches two
timeframes of daily bars (1 year and 5 years of 1-day bars) for `--symbols` symbols through the
real IBKR adapter, from `--threads` threads at once, as the workers' data steps would. Prints
the wall time, the requests per second, the time spent waiting in the pacer, and what the old
rule (60 requests per 10 minutes for every bar size) would have taken for as many requests.

Runs against a throwaway SQLite database (WAL) in a temp dir; the pacer shares its counts
through Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/0, a key prefix of its own)
when that Redis answers, else within this process.
"""

import argparse
import os
import socket
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: bench/queue.py would shadow the standard library's queue
WORKDIR = tempfile.mkdtemp(prefix="tw-bench-ibkr-pacing-")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


os.environ["VAR_DIR"] = WORKDIR
os.environ["DATABASE_URL"] = f"sqlite:///{WORKDIR}/bench.sqlite3"
os.environ["REDIS_URL"] = REDIS_URL if redis_answers(REDIS_URL) else ""
os.environ["REDIS_KEY_PREFIX"] = f"tw-bench-ibkr-{uuid.uuid4().hex[:8]}:"
os.environ["BROKER_ADAPTER"] = "ibkr"
os.environ["IBKR_TIMEOUT"] = "30"
os.environ["LOG_LEVEL"] = "WARNING"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradingweb.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from broker.adapters.ibkr import IBKRAdapter  # noqa: E402
from broker.gateway_sim import GatewaySimulator  # noqa: E402
from broker.pacing import PacingRules  # noqa: E402
from broker.simulation import SimulatedExchange  # noqa: E402

TIMEFRAMES = (("1y", "1d"), ("5y", "1d"))
OLD_RULE = PacingRules()  # 60 requests per 10 minutes, then applied to every bar size


def symbols(count: int) -> list[str]:
    return [f"S{n:03d}" for n in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=300)
    # The simulator answers one connection's requests one after another, computing bars in one
    # thread (about 0.15 s for 5 years of daily bars): with 50 threads the last of a connection's
    # queue waited past the 120 s historical timeout on the 2-core machine, so 10 by default.
    parser.add_argument("--threads", type=int, default=10)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    simulator = GatewaySimulator(port=0, exchange=SimulatedExchange(account_id="DUBENCH01"), enforce_pacing=True)
    simulator.start_in_thread()
    settings.IBKR_PORT = simulator.port
    adapter = IBKRAdapter()
    try:
        contracts = [adapter.qualify(symbol) for symbol in symbols(args.symbols)]
        jobs = [(contract, period, bar) for contract in contracts for period, bar in TIMEFRAMES]
        waited = []

        def fetch(job) -> int:
            contract, period, bar = job
            started = time.monotonic()
            bars = adapter.historical_bars(contract.conid, contract.symbol, period, bar)
            waited.append(time.monotonic() - started)
            return len(bars)

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            counts = list(pool.map(fetch, jobs))
        elapsed = time.monotonic() - started
    finally:
        adapter.close()
        simulator.stop_thread()
    old_minutes = (len(jobs) - OLD_RULE.max_requests) / OLD_RULE.max_requests * OLD_RULE.window_seconds / 60
    sharing = "through Redis" if settings.REDIS_URL else "within this process (no Redis)"
    print(f"{args.symbols} symbols x {len(TIMEFRAMES)} daily timeframes = {len(jobs)} historical requests")
    print(f"  through the simulator with IBKR's pacing ({sharing}), {args.threads} threads: {elapsed:.1f} s")
    print(f"  {len(jobs) / elapsed:.1f} requests/s, {sum(counts)} bars")
    print(f"  one request, queueing included: {min(waited):.2f} s to {max(waited):.2f} s")
    print(f"  the old rule (60 per 10 min for every bar size) would have taken about {max(old_minutes, 0):.0f} min")


if __name__ == "__main__":
    main()
