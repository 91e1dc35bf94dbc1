"""Engine overhead: what the engine itself costs per step, and symbol-runs per second.

    .venv/bin/python bench/engine.py [--symbols 20] [--steps 10]

Runs against a throwaway SQLite database (WAL) in a temp dir with the in-memory channel layer,
the simulated broker and the offline analyst (an instant model), so the figures are the
engine's bookkeeping (StepRun rows, progress events, the thread pool) plus whatever the steps
do, not network latency. Set BENCH_DATABASE_URL to measure on PostgreSQL instead.

1. Per-step overhead: executions of `--steps` wait(0) steps for `--symbols` symbols; a wait of
   0 s does nothing, so the time per step is the engine's own cost.
2. Symbol-runs per second of the built-in single-timeframe and 2-indicator templates (bars,
   indicators, chart rendering, three model calls, risk, paper order), with the mean duration
   of each step type and the critical path against the wall time, which shows the parallel
   timeframe chains.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: bench/queue.py would shadow the standard library's queue
WORKDIR = tempfile.mkdtemp(prefix="tw-bench-engine-")
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

from broker.adapters import get_adapter  # noqa: E402
from execution.models import StepRun, WorkflowExecution  # noqa: E402
from execution.runner import run_execution  # noqa: E402
from workflows.models import Workflow, WorkflowVersion  # noqa: E402
from workflows.parameters import default_values  # noqa: E402
from workflows.templates import BUILTIN_TEMPLATES  # noqa: E402

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "JPM", "V", "XOM"]


def make_execution(owner, steps: list[dict], parameters: list[dict], symbols: list[str]) -> WorkflowExecution:
    workflow = Workflow.objects.create(owner=owner, name="bench")
    version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=steps, parameters=parameters)
    workflow.current_version = version
    workflow.save(update_fields=["current_version"])
    params = {**default_values(parameters), "symbol_delay": 0}
    return WorkflowExecution.objects.create(
        owner=owner, workflow=workflow, version=version, symbols=symbols, params=params
    )


def bench_overhead(owner, symbols: int, steps: int) -> None:
    plan = [{"id": f"w{i}", "type": "wait", "name": f"w{i}", "config": {"seconds": 0}} for i in range(steps)]
    names = [SYMBOLS[i % len(SYMBOLS)] + str(i) for i in range(symbols)]
    execution = make_execution(owner, plan, [], names)
    started = time.perf_counter()
    run_execution(execution.pk)
    elapsed = time.perf_counter() - started
    runs = symbols * steps
    inside = [run.duration_ms for run in StepRun.objects.filter(execution=execution)]
    print(
        f"per-step engine overhead: {elapsed / runs * 1000:.2f} ms per step "
        f"({runs} wait(0) steps in {elapsed:.2f} s; time inside the steps {statistics.mean(inside):.2f} ms mean)"
    )
    print(f"  empty-symbol throughput: {symbols / elapsed:.1f} symbol-runs/s with {steps} steps each")


def bench_template(owner, template: dict, symbols: int) -> None:
    names = SYMBOLS[:symbols]
    execution = make_execution(owner, template["steps"], template["parameters"], names)
    started = time.perf_counter()
    results = run_execution(execution.pk)
    elapsed = time.perf_counter() - started
    runs = StepRun.objects.filter(execution=execution)
    by_type: dict[str, list[int]] = {}
    for run in runs:
        by_type.setdefault(run.step_type, []).append(run.duration_ms or 0)
    print(
        f"{template['name']}: {len(names) / elapsed:.2f} symbol-runs/s "
        f"({len(names)} symbols in {elapsed:.2f} s; decisions {results['decisions_made']}, "
        f"orders {results['orders_placed']}, errors {len(results['errors'])})"
    )
    for step_type, durations in by_type.items():
        print(f"  {step_type:<15} mean {statistics.mean(durations):8.1f} ms  over {len(durations)} runs")
    serial = sum(statistics.mean(durations) * len(durations) for durations in by_type.values()) / len(names)
    print(
        f"  per symbol: wall {elapsed / len(names) * 1000:.0f} ms, sum of step times {serial:.0f} ms "
        f"(lower wall = independent timeframe chains ran side by side)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--template-symbols", type=int, default=4)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    print(
        f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
        f"channel layer: {settings.CHANNEL_LAYERS['default']['BACKEND'].rsplit('.', 1)[-1]}, "
        f"model: {settings.LLM_PROVIDER}, broker: {settings.BROKER_ADAPTER}"
    )
    owner, _ = User.objects.get_or_create(username="bench-engine")
    get_adapter().status()  # imports the simulated exchange (scipy) outside the timings
    bench_overhead(owner, args.symbols, args.steps)
    templates = {template["type"]: template for template in BUILTIN_TEMPLATES}
    if args.template_symbols > 0:
        for template_type in ("single_timeframe", "two_indicator"):
            bench_template(owner, templates[template_type], args.template_symbols)


if __name__ == "__main__":
    main()
