"""Websocket figures: latency from a worker publishing a progress event to 200 clients receiving it.

    .venv/bin/python bench/ws.py [--clients 200] [--events 50] [--interval 0.2] [--server daphne]

Needs PostgreSQL and Redis (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres,
and BENCH_REDIS_URL, default redis://127.0.0.1:6379/0): a throwaway database and its own Redis key
prefix, so the channel layer is channels_redis as in production. A daphne server (as the Procfile runs
it) on a free loopback port; `--clients` websocket clients, logged in as the execution's owner, on
ws/executions/<id>/; a separate "worker" process publishing `--events` step.finished events of one step
through execution.progress every `--interval` seconds, each carrying its send time, then the
execution's completed status. Every client records when each event arrived: the figures are over all
(client, event) pairs. A client's step event that a later one replaced within its coalescing window
(PROGRESS_COALESCE_SECONDS) is counted as superseded, not as delivered.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: bench/queue.py would shadow the standard library's queue

from bench.support import ThrowawayDatabase, free_port, percentile, start_asgi_server, stop_server  # noqa: E402

RUN = uuid.uuid4().hex[:8]
DATABASE = ThrowawayDatabase(f"tw_bench_ws_{RUN}")
ENV = {
    "DATABASE_URL": DATABASE.url,
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "REDIS_KEY_PREFIX": f"tw-bench-ws-{RUN}:",
    "VAR_DIR": tempfile.mkdtemp(prefix="tw-bench-ws-"),
    "LOG_LEVEL": "WARNING",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "127.0.0.1",
    "MONITOR_METRICS_SECONDS": "3600",
    "DJANGO_SETTINGS_MODULE": "tradingweb.settings",
}
os.environ.update(ENV)
DATABASE.create()

import django  # noqa: E402

django.setup()

import websockets  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402

from execution import progress  # noqa: E402
from execution.models import StepRun, WorkflowExecution  # noqa: E402
from workflows.models import Workflow, WorkflowVersion  # noqa: E402

HANDSHAKES_AT_ONCE = 20


def make_execution() -> tuple[WorkflowExecution, str]:
    """A running execution with one step run, and its owner's session cookie."""
    owner = User.objects.create_user("bench-ws", password="bench-password")
    steps = [{"id": "pause", "type": "wait", "name": "Pause", "config": {"seconds": 0}}]
    workflow = Workflow.objects.create(owner=owner, name="bench ws")
    workflow.current_version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=steps)
    workflow.save(update_fields=["current_version"])
    execution = WorkflowExecution.objects.create(
        owner=owner, workflow=workflow, version=workflow.current_version, symbols=["AAPL"], status="running"
    )
    StepRun.objects.create(execution=execution, symbol="AAPL", index=0, step_id="pause", step_type="wait",
                           status="completed", duration_ms=1)  # fmt: skip
    client = Client()
    client.force_login(owner)
    return execution, client.cookies["sessionid"].value


def publish_events(execution_id: int, events: int, interval: float) -> None:
    """The worker: step.finished events through execution.progress, the send time in their progress."""
    execution = WorkflowExecution.objects.get(pk=execution_id)
    step_run = StepRun.objects.get(execution=execution)
    for number in range(events):
        progress.step_finished(
            execution, step_run, {"current_step": number, "total_steps": events, "sent_at": time.time()}
        )
        time.sleep(interval)
    execution.status = WorkflowExecution.Status.COMPLETED
    execution.progress = {"current_step": events, "total_steps": events, "sent_at": time.time()}
    progress.execution_status(execution)
    time.sleep(1)  # let the publisher's loop hand over the last events before the process ends


@dataclass
class Clients:
    """What the client coroutines share: where to connect, the start signal and the measurements."""

    url: str
    origin: str
    cookie: str
    events: int
    deadline: float
    # daphne drops connections beyond its listen backlog: handshakes go a few at a time, as browsers arrive.
    handshakes: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(HANDSHAKES_AT_ONCE))
    start: asyncio.Event = field(default_factory=asyncio.Event)
    ready: list = field(default_factory=list)
    latencies: list = field(default_factory=list)
    finished: int = 0  # clients that received the completed status

    async def client(self) -> None:
        headers = {"Cookie": f"sessionid={self.cookie}"}
        async with self.handshakes:
            socket = await websockets.connect(self.url, origin=self.origin, additional_headers=headers, max_queue=None)
        async with socket:
            self.ready.append(socket)
            await self.start.wait()
            while True:
                try:
                    message = await asyncio.wait_for(socket.recv(), timeout=max(0.1, self.deadline - time.time()))
                except TimeoutError:
                    return
                arrived = time.time()
                event = json.loads(message)
                if event.get("type") == "step.finished":
                    self.latencies.append((arrived - event["progress"]["sent_at"]) * 1000)
                elif event.get("type") == "execution.status":
                    self.finished += 1
                    return


async def run_clients(port: int, execution_id: int, cookie: str, options, on_all_connected) -> tuple[list, int, float]:
    clients = Clients(
        url=f"ws://127.0.0.1:{port}/ws/executions/{execution_id}/",
        origin=f"http://127.0.0.1:{port}",
        cookie=cookie,
        events=options.events,
        deadline=time.time() + 60 + options.events * options.interval * 3,
    )
    started = time.monotonic()
    tasks = [asyncio.create_task(clients.client()) for _ in range(options.clients)]
    while len(clients.ready) < options.clients:
        failed = [task for task in tasks if task.done() and task.exception()]
        if failed:
            raise failed[0].exception()
        await asyncio.sleep(0.05)
    connect_seconds = time.monotonic() - started
    await asyncio.sleep(0.5)  # every consumer has joined its group
    on_all_connected()
    clients.start.set()
    await asyncio.gather(*tasks)
    return clients.latencies, clients.finished, connect_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between two published events")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne")
    options = parser.parse_args()
    server = None
    try:
        call_command("migrate", verbosity=0)
        execution, cookie = make_execution()
        port = free_port()
        server = start_asgi_server(options.server, port, ENV)
        connections.close_all()  # the forked worker opens its own
        worker = multiprocessing.get_context("fork").Process(
            target=publish_events, args=(execution.pk, options.events, options.interval)
        )
        latencies, finished, connect_seconds = asyncio.run(
            run_clients(port, execution.pk, cookie, options, worker.start)
        )
        worker.join(timeout=60)
    finally:
        if server is not None:
            stop_server(server)
        DATABASE.drop()
    expected = options.clients * options.events
    latencies.sort()
    print(
        f"{options.clients} websocket clients on ws/executions/<id>/ ({options.server}, "
        f"{settings.CHANNEL_LAYERS['default']['BACKEND'].rsplit('.', 1)[-1]}) connected in {connect_seconds:.1f} s"
    )
    if not latencies:
        print("  no event arrived")
        return
    print(
        f"  publish -> receive over {options.events} events ({1 / options.interval:.0f}/s): "
        f"p50 {statistics.median(latencies):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms, "
        f"max {latencies[-1]:.1f} ms; delivered {len(latencies)}/{expected} "
        f"({expected - len(latencies)} superseded or lost); {finished}/{options.clients} clients saw the end"
    )


if __name__ == "__main__":
    main()
