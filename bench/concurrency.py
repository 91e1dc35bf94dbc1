"""Many strategies at once: wall time against the ideal, start spread, start latency, CPU utilisation.

    .venv/bin/python bench/concurrency.py [--quick] [--strategies 20] [--symbols 2] [--latency 2]
        [--symbol-delay 20] [--queued 100] [--chart-strategies 4] [--chart-symbols 4] [--owners 1]

Needs PostgreSQL and Redis (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres,
and BENCH_REDIS_URL, default redis://127.0.0.1:6379/0): it creates a throwaway database next to
the given one and uses a Redis key prefix of its own. The workers are the Procfile's `worker*`
entries, started as the Procfile writes them with this run's environment, so the figures are those
of whatever worker design the checkout has. The model is a fake OpenAI-compatible server on
127.0.0.1 (bench/support/fake_model.py) answering as the offline analyst after `--latency` seconds,
reached through a model provider row like one staff would add. Runs are dry runs of the built-in
Single Timeframe template (fetch, chart, analyze, decide, risk) with `symbol_delay` 0 unless said.

Scenarios, each printing its wall time, the ideal, their ratio, the CPU utilisation of the
worker processes (CPU seconds of the workers' process trees ÷ (wall × cores)) and PASS/FAIL:

1. one strategy alone: its wall time T1 (submission to completion) and critical path (start to
   completion), the baseline of the others;
2. `--strategies` × `--symbols`: target wall ≤ 1.3 × T1;
3. 3 strategies with `symbol_delay` `--symbol-delay`: target all three start within 1 s;
4. `--queued` one-symbol strategies submitted together: target the last starts within 2 s of the
   submission (waited for at most `--queued-timeout` s, then the rest is cancelled);
5. charts dominate: `--chart-strategies` × `--chart-symbols` runs of the 3-Indicator template (three
   1920×1080 charts per symbol) with the offline analyst, each strategy on symbols of its own (charts of
   the same bars are drawn once and shared): target CPU utilisation ≥ 80 %.

The ideal is max(critical path of one strategy, CPU seconds ÷ cores), both measured: the critical
path from scenario 1 (plus the symbol delays a strategy must sit through), the CPU seconds from the
scenario's own worker processes; in scenario 5 one strategy's path is taken as its share of the CPU
seconds. `--quick` is a small run (about 2 minutes on a quiet machine) of the same scenarios.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: bench/queue.py would shadow the standard library's queue

import signal  # noqa: E402

signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (atexit, main's finally) as Ctrl-C does

import argparse  # noqa: E402
import atexit  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from bench.support import ThrowawayDatabase  # noqa: E402

RUN = uuid.uuid4().hex[:8]
DATABASE = ThrowawayDatabase(f"tw_bench_concurrency_{RUN}")
WORKDIR = tempfile.mkdtemp(prefix="tw-bench-concurrency-")
atexit.register(shutil.rmtree, WORKDIR, ignore_errors=True)  # the worker logs and the charts of every run
ENV = {
    "DATABASE_URL": DATABASE.url,
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "REDIS_KEY_PREFIX": f"tw-bench-concurrency-{RUN}:",
    "VAR_DIR": WORKDIR,
    "LLM_PROVIDER": "offline",
    "BROKER_ADAPTER": "simulated",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "tradingweb.settings",
    "BENCH_MODEL_API_KEY": "sk-bench",
}
os.environ.update(ENV)

import django  # noqa: E402

django.setup()

import psutil  # noqa: E402
import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.db.models import Avg, Min  # noqa: E402

from agents.models import ModelProvider  # noqa: E402
from bench.support.fake_model import analyst_server  # noqa: E402
from execution.cancel import CancelConflict, execution_cancel  # noqa: E402
from execution.models import StepRun, WorkflowExecution  # noqa: E402
from execution.services import execution_create, execution_enqueue  # noqa: E402
from tradingweb.celery import app  # noqa: E402
from workflows.services import strategy_create, workflow_create  # noqa: E402
from workflows.templates import TEMPLATES_BY_TYPE  # noqa: E402

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "JPM", "V", "XOM"]
CORES = len(os.sched_getaffinity(0))
BENCH_MODEL = "bench-model"
OFFLINE_MODEL = "offline-analyst"
STATS_TIMEOUT = 900  # seconds any scenario may take before the run gives up on it


def procfile_workers() -> dict[str, str]:
    """The Procfile's `worker*` entries, name → command."""
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, colon, command = line.partition(":")
        if colon and not line.lstrip().startswith("#") and name.strip().startswith("worker"):
            entries[name.strip()] = command.strip()
    if not entries:
        raise SystemExit("the Procfile has no worker entry")
    return entries


class Workers:
    """The Procfile's worker entries as `sh -c` processes, each in its own process group, logging to WORKDIR."""

    def __init__(self):
        self.entries = procfile_workers()
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        env = {**os.environ, **ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        for name, command in self.entries.items():
            with open(Path(WORKDIR) / f"{name}.log", "ab") as log:
                self.processes[name] = subprocess.Popen(
                    ["/bin/sh", "-c", command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
        deadline = time.monotonic() + 120
        while len(app.control.ping(timeout=1) or []) < len(self.entries):
            exited = [name for name, process in self.processes.items() if process.poll() is not None]
            if exited or time.monotonic() > deadline:
                logs = "\n".join(self.log_tail(name) for name in exited or self.entries)
                raise SystemExit(f"workers {exited or list(self.entries)} did not start:\n{logs}")

    def log_tail(self, name: str, lines: int = 20) -> str:
        text = (Path(WORKDIR) / f"{name}.log").read_text(errors="replace")
        return "\n".join(f"{name}| {line}" for line in text.splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of every worker process and its descendants, the exited ones included."""
        total = 0.0
        for process in self.processes.values():
            try:
                root = psutil.Process(process.pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for member in tree:
                try:
                    times = member.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += times.user + times.system + times.children_user + times.children_system
        return total

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # warm shutdown: the main process stops its pool
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@dataclass
class Figures:
    """One scenario's measurements; times in seconds from the moment its executions were enqueued."""

    count: int
    wall: float  # to the last completion (to the moment it stopped waiting, when some did not complete)
    window: float  # to the moment it stopped waiting: the span of the CPU figures
    starts: list[float]
    cpu: float
    statuses: dict[str, int]
    critical_path: float  # the longest start → completion of one execution
    steps: dict[str, float]  # mean seconds of each step type
    machine_busy: float  # share of the machine's CPU time spent busy, by any process (the machine is shared)
    model_calls: int

    @property
    def utilisation(self) -> float:
        return self.cpu / (self.window * CORES) if self.window > 0 else 0.0


def distinct_symbols(strategy_index: int, count: int) -> list[str]:
    """Symbols no other strategy of the run has (the simulated broker makes up a market for any symbol)."""
    return [f"B{strategy_index:03d}{chr(ord('A') + n)}" for n in range(count)]


class Bench:
    def __init__(self, owners: list[User], workers: Workers, model_server):
        self.owners, self.workers, self.model_server = owners, workers, model_server
        self.workflows = {}

    def strategies(self, template_type: str, count: int, symbols: int, model: str, *, distinct: bool = False) -> list:
        """`count` strategies of `symbols` symbols each: the same ones, or with `distinct` symbols of each strategy's
        own (charts of the same bars are drawn once and shared, broker.charts)."""
        if template_type not in self.workflows:
            template = TEMPLATES_BY_TYPE[template_type]
            self.workflows[template_type] = {
                owner.pk: workflow_create(
                    owner=owner,
                    name=template["name"],
                    steps=template["steps"],
                    parameters=template["parameters"],
                    type=template_type,
                )
                for owner in self.owners
            }
        return [
            strategy_create(
                owner=(owner := self.owners[index % len(self.owners)]),
                name=f"{template_type} {uuid.uuid4().hex[:6]}",
                workflow=self.workflows[template_type][owner.pk],
                symbols=distinct_symbols(index, symbols) if distinct else SYMBOLS[:symbols],
                params={"model": model},
            )
            for index in range(count)
        ]

    def run(self, strategies: list, *, symbol_delay: float = 0, until_started: float | None = None) -> Figures:
        """Enqueue one dry run of each strategy at once; wait until all finish, or with `until_started`,
        until all started (at most that many seconds), then cancel what is left."""
        executions = [
            execution_create(
                owner=strategy.owner, strategy=strategy, dry_run=True, params={"symbol_delay": symbol_delay}
            )
            for strategy in strategies
        ]
        ids = [execution.pk for execution in executions]
        self.model_server.requests.clear()  # each holds a chart image: keep one scenario's only
        cpu_before, machine_before = self.workers.cpu_seconds(), psutil.cpu_times()
        enqueued = time.time()
        with transaction.atomic():  # every task is sent at the commit, in one burst
            for execution in executions:
                execution_enqueue(execution)
        rows = WorkflowExecution.objects.filter(pk__in=ids)
        if until_started is None:
            wait_for(lambda: not rows.filter(completed_at__isnull=True).exists(), STATS_TIMEOUT)
        else:
            wait_for(lambda: not rows.filter(started_at__isnull=True).exists(), until_started)
        elapsed = time.time() - enqueued
        cpu = self.workers.cpu_seconds() - cpu_before
        figures = self.figures(ids, enqueued, elapsed, cpu, busy_share(machine_before, psutil.cpu_times()))
        if rows.filter(completed_at__isnull=True).exists():
            settle(ids)
        return figures

    def figures(self, ids: list[int], enqueued: float, elapsed: float, cpu: float, machine_busy: float) -> Figures:
        rows = list(WorkflowExecution.objects.filter(pk__in=ids))
        starts = sorted(row.started_at.timestamp() - enqueued for row in rows if row.started_at)
        ends = [row.completed_at.timestamp() - enqueued for row in rows if row.completed_at]
        paths = [
            (row.completed_at - row.started_at).total_seconds() for row in rows if row.completed_at and row.started_at
        ]
        statuses: dict[str, int] = {}
        for row in rows:
            statuses[row.status] = statuses.get(row.status, 0) + 1
        failed = next((row for row in rows if row.status == WorkflowExecution.Status.FAILED), None)
        if failed is not None:
            print(f"  (a failed run, {failed.pk}: {failed.error or failed.results})")
        wall = max(ends) if len(ends) == len(rows) else elapsed
        steps = (
            StepRun.objects.filter(execution_id__in=ids, duration_ms__isnull=False)
            .values("step_type").annotate(mean=Avg("duration_ms"), first=Min("index")).order_by("first")
        )  # fmt: skip
        means = {row["step_type"]: row["mean"] / 1000 for row in steps}
        return Figures(
            count=len(rows),
            wall=wall,
            window=elapsed,
            starts=starts,
            cpu=cpu,
            statuses=statuses,
            critical_path=max(paths, default=0.0),
            steps=means,
            machine_busy=machine_busy,
            model_calls=len(self.model_server.requests),
        )


def busy_share(before, after) -> float:
    """The share of CPU time between two psutil.cpu_times() readings that was neither idle nor waiting on I/O."""
    total = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (after.iowait - before.iowait)
    return (total - idle) / total if total > 0 else 0.0


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)  # start and end times come from the rows, not from this loop
    return True


def settle(ids: list[int]) -> None:
    """Cancel what is left of these executions and wait for the running ones to stop at a step boundary."""
    app.control.purge()
    for execution in WorkflowExecution.objects.filter(pk__in=ids, completed_at__isnull=True):
        try:
            execution_cancel(execution)
        except CancelConflict:
            pass
    if not wait_for(lambda: not WorkflowExecution.objects.filter(pk__in=ids, completed_at__isnull=True).exists(), 120):
        print("  (some cancelled runs had not stopped after 120 s)")
    app.control.purge()


def report(name: str, figures: Figures, ideal: float, target: str, passed: bool | None, measured: str = "") -> None:
    result = "-" if passed is None else ("PASS" if passed else "FAIL")
    statuses = ", ".join(f"{count} {status}" for status, count in sorted(figures.statuses.items()))
    ratio = figures.wall / ideal if ideal > 0 else float("nan")
    print(
        f"{name}\n  wall {figures.wall:6.1f} s   ideal {ideal:6.1f} s   ratio {ratio:5.2f}   "
        f"CPU {figures.cpu:6.1f} s, utilisation {figures.utilisation:4.0%} of {CORES} cores "
        f"(machine busy {figures.machine_busy:.0%}, any process)\n"
        f"  starts after submission: first {figures.starts[0] if figures.starts else float('nan'):.2f} s, "
        f"last {figures.starts[-1] if figures.starts else float('nan'):.2f} s "
        f"({len(figures.starts)}/{figures.count} started; {statuses})\n"
        f"  {figures.model_calls} model calls; mean step times: "
        f"{', '.join(f'{step} {seconds:.2f} s' for step, seconds in figures.steps.items())}\n"
        f"  target: {target}{measured}   {result}",
        flush=True,
    )


def ideal(critical_path: float, figures: Figures) -> float:
    return max(critical_path, figures.cpu / CORES)


def scenarios(bench: Bench, sizes: argparse.Namespace) -> None:
    symbols, delay, queued = sizes.symbols, sizes.symbol_delay, sizes.queued
    solo = bench.run(bench.strategies("single_timeframe", 1, symbols, BENCH_MODEL))
    report(f"1 strategy x {symbols} symbols alone (T1)", solo, ideal(solo.critical_path, solo), "baseline", None)
    one = solo.wall

    many = bench.run(bench.strategies("single_timeframe", sizes.strategies, symbols, BENCH_MODEL))
    report(
        f"{sizes.strategies} strategies x {symbols} symbols",
        many,
        ideal(solo.critical_path, many),
        f"wall <= 1.3 x T1 = {1.3 * one:.1f} s",
        many.wall <= 1.3 * one,
        f" (measured {many.wall / one:.2f} x T1)",
    )

    delayed = bench.run(bench.strategies("single_timeframe", 3, symbols, BENCH_MODEL), symbol_delay=delay)
    spread = delayed.starts[-1] - delayed.starts[0] if len(delayed.starts) == 3 else float("inf")
    report(
        f"3 strategies x {symbols} symbols, symbol_delay {delay:g} s",
        delayed,
        ideal(solo.critical_path + (symbols - 1) * delay, delayed),
        "all start within 1 s",
        spread <= 1,
        f" (measured {spread:.2f} s)",
    )

    backlog = bench.run(
        bench.strategies("single_timeframe", queued, 1, BENCH_MODEL), until_started=sizes.queued_timeout
    )
    everyone = len(backlog.starts) == queued
    last = f"{backlog.starts[-1]:.2f} s" if everyone else f"not within {sizes.queued_timeout:g} s"
    # An io worker runs one execution per thread: the runs beyond its threads start only as earlier ones end.
    threads = settings.CELERY_IO_WORKER_CONCURRENCY
    if len(backlog.starts) >= threads:
        last += f"; the {threads}th, as many as the io worker has threads, {backlog.starts[threads - 1]:.2f} s"
    report(
        f"{queued} one-symbol strategies queued together (wall: until the last start)",
        backlog,
        solo.starts[0],
        f"the {queued}th starts within 2 s",
        everyone and backlog.starts[-1] <= 2,
        f" (measured {last}; ideal: T1's start latency)",
    )

    charts = bench.run(
        bench.strategies("three_indicator", sizes.chart_strategies, sizes.chart_symbols, OFFLINE_MODEL, distinct=True)
    )
    report(
        f"charts dominate: {sizes.chart_strategies} x {sizes.chart_symbols} symbols of 3-Indicator, offline analyst",
        charts,
        ideal(charts.cpu / sizes.chart_strategies, charts),
        "CPU utilisation >= 80 %",
        charts.utilisation >= 0.8,
    )


def parse_sizes() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run: 4 strategies, 20 queued, delay 5 s")
    parser.add_argument("--strategies", type=int, help="N of the N x M scenario (20; quick 4)")
    parser.add_argument("--symbols", type=int, default=2, help="M, symbols per strategy (2)")
    parser.add_argument("--latency", type=float, default=2.0, help="seconds the model takes per answer (2)")
    parser.add_argument("--symbol-delay", type=float, help="symbol_delay of the 3-strategy scenario (20; quick 5)")
    parser.add_argument("--queued", type=int, help="one-symbol strategies submitted together (100; quick 20)")
    parser.add_argument("--queued-timeout", type=float, default=30.0, help="longest wait for the last start (30)")
    parser.add_argument("--chart-strategies", type=int, help="strategies of the chart scenario (4; quick 2)")
    parser.add_argument("--chart-symbols", type=int, help="symbols per strategy there (4; quick 2)")
    parser.add_argument("--owners", type=int, default=1, help="traders owning the strategies, round-robin (1)")
    sizes = parser.parse_args()
    defaults = {"strategies": (20, 4), "symbol_delay": (20, 5), "queued": (100, 20), "chart_strategies": (4, 2),
                "chart_symbols": (4, 2)}  # fmt: skip
    for name, (full, quick) in defaults.items():
        if getattr(sizes, name) is None:
            setattr(sizes, name, quick if sizes.quick else full)
    for name in ("strategies", "symbols", "queued", "chart_strategies", "chart_symbols", "owners"):
        if getattr(sizes, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if sizes.symbols > len(SYMBOLS) or sizes.chart_symbols > len(SYMBOLS):
        parser.error(f"at most {len(SYMBOLS)} symbols per strategy")
    if sizes.latency < 0 or sizes.symbol_delay < 0 or sizes.queued_timeout <= 0:
        parser.error("--latency and --symbol-delay must be 0 or more, --queued-timeout more than 0")
    return sizes


def main() -> None:
    sizes = parse_sizes()
    workers = Workers()
    try:
        DATABASE.create()
        call_command("migrate", verbosity=0)
        with analyst_server(sizes.latency) as server:
            ModelProvider.objects.create(
                name="bench", base_url=server.url, api_key_env="BENCH_MODEL_API_KEY", allowed_models=[BENCH_MODEL]
            )
            owners = [User.objects.create_user(f"bench{n}", password="bench-password") for n in range(sizes.owners)]
            workers.start()
            print(
                f"{CORES} cores, load average {os.getloadavg()[0]:.1f}; workers from the Procfile: "
                f"{', '.join(workers.entries)}; model latency {sizes.latency:g} s",
                flush=True,
            )
            scenarios(Bench(owners, workers, server), sizes)
            own = psutil.Process().cpu_times()
            print(f"this process (the fake model, the polling, the setup) used {own.user + own.system:.1f} s of CPU")
    finally:
        workers.stop()
        app.control.purge()
        DATABASE.drop()
        client = redis.Redis.from_url(ENV["REDIS_URL"])
        keys = list(client.scan_iter(match=f"{ENV['REDIS_KEY_PREFIX']}*", count=10000))  # a shared Redis: big
        if keys:
            client.delete(*keys)


if __name__ == "__main__":
    main()
