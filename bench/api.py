"""API figures under load: p50/p99 latency and requests/s of the main list endpoints on a big database.

    .venv/bin/python bench/api.py [--executions 20000] [--steps-per 10] [--duration 10] [--connections 8]
                                  [--server daphne|uvicorn] [--workers 1]

The issue's size is `--executions 100000 --steps-per 10` (100,000 executions, 1,000,000 step runs).

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres): it creates a
throwaway database next to the given one, migrates it and seeds it with COPY: one trader owning
`--executions` executions (spread over 50 workflows and strategies and 100 instruments, 95% completed,
the rest failed, cancelled, running or queued), `--steps-per` step runs each, one decision each and an
order for every buy or sell decision. Then it starts the ASGI server (daphne, as the Procfile runs it,
or uvicorn with `--workers`) on a free loopback port and drives each endpoint for `--duration` seconds
with wrk (Debian's `wrk`; `apt-get install wrk`), authenticated by the trader's API token. No traffic
leaves 127.0.0.1, no Redis is used (in-memory channel layer and cache), and the database is dropped
at the end.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: bench/queue.py would shadow the standard library's queue

from bench.support import ThrowawayDatabase, free_port, start_asgi_server, stop_server  # noqa: E402

DATABASE = ThrowawayDatabase(f"tw_bench_api_{uuid.uuid4().hex[:8]}")
WORKDIR = tempfile.mkdtemp(prefix="tw-bench-api-")
ENV = {
    "DATABASE_URL": DATABASE.url,
    "REDIS_URL": "",
    "VAR_DIR": WORKDIR,
    "LLM_PROVIDER": "offline",
    "BROKER_ADAPTER": "simulated",
    "LOG_LEVEL": "WARNING",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "127.0.0.1",
    "DJANGO_SETTINGS_MODULE": "tradingweb.settings",
}
os.environ.update(ENV)

WORKFLOWS = 50
INSTRUMENTS = 100
ACTIVE_EVERY = 500  # one execution in 500 is still queued or running: the task list's rows


DATABASE.create()

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, models  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from broker.models import Instrument, Order  # noqa: E402
from execution.models import Decision, StepRun, WorkflowExecution  # noqa: E402
from workflows.models import Strategy, Workflow, WorkflowVersion  # noqa: E402

STEP_TYPES = ["fetch_data", "indicators", "chart", "analyze", "decide", "validate_risk", "place_order", "wait",
              "condition", "notify"]  # fmt: skip
STATUSES = ["completed"] * 95 + ["failed"] * 3 + ["cancelled"] * 2


# --- seeding ------------------------------------------------------------------------------------


class Copier:
    """Rows into one model's table through COPY; fields a row leaves out get the model's default."""

    def __init__(self, model: type[models.Model]):
        self.model = model
        self.fields = model._meta.concrete_fields
        columns = ", ".join(f'"{field.column}"' for field in self.fields)
        self.statement = f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN'

    def _value(self, field, row: dict):
        value = row[field.attname] if field.attname in row else field.get_default()
        if isinstance(value, dict | list):
            return json.dumps(value)
        return value

    def copy(self, rows) -> int:
        count = 0
        with connection.cursor() as cursor, cursor.cursor.copy(self.statement) as copy:
            for row in rows:
                copy.write_row([self._value(field, row) for field in self.fields])
                count += 1
        return count


def reset_sequence(model: type[models.Model]) -> None:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT max(id) FROM \"{table}\"))")


def seed(executions: int, steps_per: int) -> tuple[User, str]:
    """The trader, their API token; prints how long the seeding took."""
    started = time.monotonic()
    trader = User.objects.create_user("bench-trader", password="bench-password")
    token = AuthToken.objects.create(user=trader)[1]
    instruments = Instrument.objects.bulk_create(
        Instrument(symbol=f"SYM{n:03d}", conid=700000 + n, exchange="SIMX") for n in range(INSTRUMENTS)
    )
    steps = [{"id": f"s{n}", "type": STEP_TYPES[n % len(STEP_TYPES)], "name": f"Step {n}", "config": {}}
             for n in range(steps_per)]  # fmt: skip
    workflows, versions, strategies = [], [], []
    for n in range(WORKFLOWS):
        workflow = Workflow.objects.create(owner=trader, name=f"Workflow {n}", status=Workflow.Status.ACTIVE)
        version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=steps, created_by=trader)
        workflow.current_version = version
        workflow.save(update_fields=["current_version"])
        strategy = Strategy.objects.create(owner=trader, name=f"Strategy {n}", workflow=workflow)
        strategy.instruments.set(instruments[n * 2 : n * 2 + 2])
        workflows.append(workflow)
        versions.append(version)
        strategies.append(strategy)
    origin = datetime.now(UTC) - timedelta(days=365)

    def execution_rows():
        for n in range(1, executions + 1):
            kind = n % WORKFLOWS
            created = origin + timedelta(seconds=n * 300)
            status = STATUSES[n % len(STATUSES)]
            if n % ACTIVE_EVERY == 0:
                status = "running" if n % (2 * ACTIVE_EVERY) else "pending"
            finished = status not in ("running", "pending")
            yield {
                "id": n, "owner_id": trader.pk, "workflow_id": workflows[kind].pk, "version_id": versions[kind].pk,
                "strategy_id": strategies[kind].pk, "task_id": str(uuid.UUID(int=n)), "status": status,
                "symbols": [instruments[n % INSTRUMENTS].symbol], "params": {"symbol_delay": 0},
                "progress": {"current_step": steps_per if finished else 1, "total_steps": steps_per,
                             "current_symbol": "", "completed_symbols": 1 if finished else 0},
                "results": {"symbols_processed": 1, "decisions_made": {"buy": 1, "sell": 0, "hold": 0},
                            "orders_placed": 1, "errors": []} if finished else {},
                "attempt": 1, "created_at": created, "started_at": created + timedelta(seconds=1),
                "completed_at": created + timedelta(seconds=30) if finished else None,
            }  # fmt: skip

    def step_rows():
        for n in range(1, executions + 1):
            started = origin + timedelta(seconds=n * 300 + 1)
            symbol = instruments[n % INSTRUMENTS].symbol
            for index, step in enumerate(steps):
                yield {
                    "id": (n - 1) * steps_per + index + 1, "execution_id": n, "symbol": symbol, "index": index,
                    "step_id": step["id"], "step_type": step["type"], "status": "completed", "attempt": 1,
                    "started_at": started + timedelta(seconds=index), "duration_ms": 900 + index,
                    "finished_at": started + timedelta(seconds=index, milliseconds=900 + index),
                    "output": {"summary": f"{step['type']} done", "rows": 250},
                }  # fmt: skip

    def decision_rows():
        for n in range(1, executions + 1):
            yield {
                "id": n, "owner_id": trader.pk, "execution_id": n, "strategy_id": strategies[n % WORKFLOWS].pk,
                "instrument_id": instruments[n % INSTRUMENTS].pk, "step_id": "s4",
                "type": ("buy", "sell", "hold")[n % 3],
                "current_price": Decimal("100.50"), "target_price": Decimal("110.00"), "stop_loss": Decimal("95.00"),
                "quantity": Decimal("10"), "confidence": Decimal("0.7"), "analysis_text": "Trend up, RSI 55.",
                "key_factors": ["trend", "rsi"], "status": "executed" if n % 3 != 2 else "approved",
                "created_at": origin + timedelta(seconds=n * 300 + 20),
            }  # fmt: skip

    def order_rows():
        for n in range(1, executions + 1):
            if n % 3 == 2:  # hold: no order
                continue
            created = origin + timedelta(seconds=n * 300 + 25)
            yield {
                "id": n, "owner_id": trader.pk, "decision_id": n, "execution_id": n,
                "strategy_id": strategies[n % WORKFLOWS].pk, "instrument_id": instruments[n % INSTRUMENTS].pk,
                "side": "BUY" if n % 3 == 0 else "SELL", "quantity": Decimal("10"), "order_type": "LMT",
                "limit_price": Decimal("100.50"), "tif": "DAY", "status": "filled", "broker_order_id": str(n),
                "idempotency_key": f"tw-{n}-s6-{n}", "filled_quantity": Decimal("10"),
                "avg_fill_price": Decimal("100.50"), "created_at": created, "updated_at": created,
            }  # fmt: skip

    counts = {}
    for model, rows in ((WorkflowExecution, execution_rows()), (StepRun, step_rows()), (Decision, decision_rows()),
                        (Order, order_rows())):  # fmt: skip
        counts[model.__name__] = Copier(model).copy(rows)
        reset_sequence(model)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"seeded {', '.join(f'{count:,} {name}' for name, count in counts.items())} "
        f"in {time.monotonic() - started:.0f} s"
    )
    return trader, token


# --- load ---------------------------------------------------------------------------------------


def milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def drive(url: str, token: str, duration: int, connections: int) -> dict:
    """wrk against one URL: p50, p99 (ms), requests/s and the count of non-2xx answers."""
    output = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--timeout", "30s", "--latency",
         "-H", f"Authorization: Token {token}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    if len(percentiles) < 2:  # not one request finished within the run
        return {"p50": float("nan"), "p99": float("nan"), "rps": 0.0, "errors": 0, "raw": output}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "p50": milliseconds(percentiles["50"]),
        "p99": milliseconds(percentiles["99"]),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "errors": int(errors.group(1)) if errors else 0,
    }


def endpoints(executions: int) -> list[str]:
    middle = executions // 2
    return [
        "/api/workflow-executions/",
        "/api/workflow-executions/?status=failed",
        f"/api/workflow-executions/{middle}/steps/",
        "/api/decisions/",
        "/api/orders/",
        "/api/workflows/",
        "/api/tasks/",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=20_000)
    parser.add_argument("--steps-per", type=int, default=10)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per endpoint")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench/api.py needs wrk (apt-get install wrk); skipped")
        DATABASE.drop()
        return
    server = None
    try:
        call_command("migrate", verbosity=0)
        _, token = seed(options.executions, options.steps_per)
        port = free_port()
        server = start_asgi_server(options.server, port, ENV, options.workers)
        processes = f"{options.workers} process(es)" if options.server == "uvicorn" else "1 process"
        print(
            f"{options.server}, {processes}, wrk 2 threads x {options.connections} connections, "
            f"{options.duration} s per endpoint, page size 50"
        )
        for path in endpoints(options.executions):
            result = drive(f"http://127.0.0.1:{port}{path}", token, options.duration, options.connections)
            if "raw" in result:
                print(f"  {path:<45} no answer within {options.duration} s:\n{result['raw']}")
                continue
            errors = f", {result['errors']} non-2xx" if result["errors"] else ""
            print(
                f"  {path:<45} p50 {result['p50']:7.1f} ms  p99 {result['p99']:7.1f} ms  "
                f"{result['rps']:7.1f} req/s{errors}"
            )
    finally:
        if server is not None:
            stop_server(server)
        DATABASE.drop()


if __name__ == "__main__":
    main()
