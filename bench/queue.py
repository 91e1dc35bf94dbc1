"""Queue figures: end-to-end latency, throughput by worker processes, high-priority start latency.

    .venv/bin/python bench/queue.py [--runs 20] [--executions 40]

Needs PostgreSQL and Redis (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres,
and BENCH_REDIS_URL, default redis://127.0.0.1:6379/0): it creates a throwaway database next to
the given one and uses its own Redis key prefix, and runs real `celery worker` processes (prefork,
concurrency 1 each). The workflow waits (a `wait` step), so the figures are the queue's and the
engine's costs, not a model's or a broker's.

1. End-to-end latency of a 1-step workflow (wait 0 s): from enqueueing to the execution recorded
   as completed, one at a time, with one worker.
2. Throughput (executions per second) of `--executions` 1-step executions (wait 0.2 s) with 1, 2
   and 4 worker processes.
3. Start latency of a high-priority execution submitted behind a backlog of 50 low-priority ones.
"""

import sys
from pathlib import Path

# This script shares its name with the standard library's queue module (which the engine imports):
# its own folder must not be on the import path.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from urllib.parse import urlparse, urlunparse  # noqa: E402

RUN = uuid.uuid4().hex[:8]
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE_NAME = f"tw_bench_queue_{RUN}"
DATABASE_URL = urlunparse(urlparse(SERVER_URL)._replace(path=f"/{DATABASE_NAME}"))
WORKDIR = tempfile.mkdtemp(prefix="tw-bench-queue-")
ENV = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "REDIS_KEY_PREFIX": f"tw-bench-queue-{RUN}:",
    "VAR_DIR": WORKDIR,
    "LLM_PROVIDER": "offline",
    "BROKER_ADAPTER": "simulated",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "tradingweb.settings",
}
os.environ.update(ENV)
BACKLOG = 50


def create_database() -> None:
    import psycopg

    with psycopg.connect(SERVER_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def drop_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(SERVER_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')


create_database()

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

from execution.models import WorkflowExecution  # noqa: E402
from execution.services import execution_enqueue  # noqa: E402
from tradingweb.celery import app  # noqa: E402
from workflows.models import Workflow, WorkflowVersion  # noqa: E402


class Workers:
    """`count` worker processes (prefork, concurrency 1), each in its own process group."""

    def __init__(self, count: int):
        self.processes = []
        self.names = [f"bench{n}-{RUN}@bench" for n in range(count)]
        for name in self.names:
            args = [sys.executable, "-m", "celery", "-A", "tradingweb", "worker", "-Q", "high,normal,low",
                    "--pool", "prefork", "--concurrency", "1", "--hostname", name, "--without-mingle",
                    "--without-gossip", "--loglevel", "WARNING"]  # fmt: skip
            self.processes.append(
                subprocess.Popen(
                    args, cwd=ROOT, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, start_new_session=True
                )
            )
        deadline = time.monotonic() + 90
        while len(app.control.ping(destination=self.names, timeout=0.5) or []) < count:
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start within 90 s")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()  # warm shutdown of the main process; it stops its pool children itself
        for process in self.processes:
            process.wait(timeout=60)


def waiting_workflow(owner, seconds: float) -> Workflow:
    workflow = Workflow.objects.create(owner=owner, name=f"wait {seconds}")
    steps = [{"id": "pause", "type": "wait", "name": "Pause", "config": {"seconds": seconds}}]
    workflow.current_version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=steps)
    workflow.save(update_fields=["current_version"])
    return workflow


def submit(workflow: Workflow, priority: str = "normal") -> WorkflowExecution:
    execution = WorkflowExecution.objects.create(
        owner=workflow.owner,
        workflow=workflow,
        version=workflow.current_version,
        symbols=["AAPL"],
        params={"symbol_delay": 0},
        priority=priority,
    )
    execution_enqueue(execution)
    return execution


def wait_all(executions, timeout: float = 600) -> None:
    ids = [execution.pk for execution in executions]
    deadline = time.monotonic() + timeout
    while WorkflowExecution.objects.filter(pk__in=ids, completed_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise SystemExit("executions did not finish in time")
        time.sleep(0.02)


def bench_latency(owner, runs: int) -> None:
    workflow = waiting_workflow(owner, 0)
    workers = Workers(1)
    try:
        latencies = []
        for _ in range(runs):
            started = time.time()
            execution = submit(workflow)
            wait_all([execution])
            execution.refresh_from_db()
            latencies.append((execution.completed_at.timestamp() - started) * 1000)
    finally:
        workers.stop()
    latencies.sort()
    print(
        f"end-to-end latency, 1-step workflow ({runs} runs, 1 worker): "
        f"p50 {statistics.median(latencies):.0f} ms, p95 {latencies[int(len(latencies) * 0.95) - 1]:.0f} ms, "
        f"max {latencies[-1]:.0f} ms"
    )


def bench_throughput(owner, executions: int) -> None:
    workflow = waiting_workflow(owner, 0.2)
    for count in (1, 2, 4):
        workers = Workers(count)
        try:
            started = time.monotonic()
            batch = [submit(workflow) for _ in range(executions)]
            wait_all(batch)
            elapsed = time.monotonic() - started
        finally:
            workers.stop()
        print(
            f"throughput with {count} worker process(es): {executions / elapsed:.2f} executions/s "
            f"({executions} x wait 0.2 s in {elapsed:.1f} s; serial would take {executions * 0.2:.1f} s)"
        )


def bench_priority(owner) -> None:
    low = waiting_workflow(owner, 0.2)
    urgent = waiting_workflow(owner, 0)
    backlog = [submit(low, "low") for _ in range(BACKLOG)]
    workers = Workers(1)
    try:
        while WorkflowExecution.objects.filter(pk__in=[e.pk for e in backlog], started_at__isnull=False).count() < 3:
            time.sleep(0.02)
        submitted = time.time()
        high = submit(urgent, "high")
        wait_all([high])
        high.refresh_from_db()
        lows_ahead = WorkflowExecution.objects.filter(
            pk__in=[e.pk for e in backlog], started_at__gt=WorkflowExecution.objects.get(pk=high.pk).created_at,
            started_at__lt=high.started_at,
        ).count()  # fmt: skip
        waiting = WorkflowExecution.objects.filter(pk__in=[e.pk for e in backlog], started_at__isnull=True).count()
    finally:
        app.control.purge()
        workers.stop()
    print(
        f"high-priority start latency behind {BACKLOG} low-priority executions: "
        f"{(high.started_at.timestamp() - submitted) * 1000:.0f} ms "
        f"({lows_ahead} low run(s) started in between; {waiting} low still queued)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--executions", type=int, default=40)
    options = parser.parse_args()
    try:
        call_command("migrate", verbosity=0)
        owner = User.objects.create_user("bench", password="bench-password")
        bench_latency(owner, options.runs)
        bench_throughput(owner, options.executions)
        bench_priority(owner)
    finally:
        app.control.purge()
        drop_database()


if __name__ == "__main__":
    main()
