"""Real processes for tests: `celery worker`, `celery beat` and daphne subprocesses, and work for them.

Shared by tests/execution/queue and tests/integration/reliability. Each process runs against the test run's PostgreSQL
database (and, unless told otherwise through `env`, its Redis), in its own process group so that
`kill()` is a SIGKILL of the main process and its pool children at once, with its output in a log
file under the run's VAR_DIR.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Self

from django.conf import settings
from django.db import connection

from execution.models import WorkflowExecution
from tradingweb.celery import app
from workflows.models import Workflow, WorkflowVersion

QUEUES = settings.CELERY_TASK_QUEUES_BY_PRIORITY
ROOT = Path(__file__).resolve().parents[1]
# The workers this test process started, by node name, each with whether it still runs: the worker
# processes and the in-process worker of tests/conftest.py. Only they consume this run's queues.
_consumers: dict[str, Callable[[], bool]] = {}


def add_consumer_node(name: str, running: Callable[[], bool]) -> None:
    _consumers[name] = running


def consumer_nodes() -> list[str]:
    """The node names of the workers of this run that are still running."""
    return [name for name, running in _consumers.items() if running()]


def stop_consuming(nodes: list[str], timeout: float = 60) -> None:
    """Tell the workers `nodes` to stop consuming the queues, and wait until each of them says it has.

    Asking by name, and waiting for every node's own answer: a worker busy with a task may answer
    late, and one that has not answered may still take the next message.
    """
    deadline = time.monotonic() + timeout
    while nodes:
        for queue in QUEUES:
            app.control.cancel_consumer(queue, destination=nodes, reply=False)
        answers = app.control.inspect(destination=nodes, timeout=1).active_queues() or {}
        consuming = [
            node for node in nodes if node not in answers or any(queue["name"] in QUEUES for queue in answers[node])
        ]
        if not consuming:
            return
        assert time.monotonic() < deadline, f"workers still consuming (or not answering) after {timeout} s: {consuming}"
        time.sleep(0.2)


def start_consuming(nodes: list[str]) -> None:
    for queue in QUEUES:
        if nodes:
            app.control.add_consumer(queue, destination=nodes, reply=True, timeout=2)


def database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


class CeleryProcess:
    """A `celery` subprocess in its own process group, with its output in a log file."""

    def __init__(self, name: str, *, env: dict | None = None):
        self.hostname = f"{name}-{uuid.uuid4().hex[:6]}@{settings.REDIS_KEY_PREFIX.strip(':')}"
        self.extra_env = env or {}
        self.log_path = Path(settings.VAR_DIR) / f"{self.hostname.split('@')[0]}.log"
        self.process: subprocess.Popen | None = None

    def arguments(self) -> list[str]:
        raise NotImplementedError

    def command(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "tradingweb", *self.arguments()]

    def start(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "CHART_WIDTH": "480",
            "CHART_HEIGHT": "320",
            "LOG_LEVEL": "INFO",
            **self.extra_env,
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the main process and its pool children: no shutdown, no acknowledgement."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if not self.running():
            return
        self.process.terminate()  # warm shutdown of the main process: a worker finishes its current task
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


class WorkerProcess(CeleryProcess):
    """A prefork `celery worker` consuming high, normal and low."""

    def __init__(self, name: str, *, concurrency: int = 1, env: dict | None = None):
        super().__init__(name, env=env)
        self.concurrency = concurrency

    def arguments(self) -> list[str]:
        return [
            "worker", "-Q", ",".join(QUEUES), "--pool", "prefork", "--concurrency", str(self.concurrency),
            "--hostname", self.hostname, "--without-mingle", "--without-gossip", "--loglevel", "INFO",
        ]  # fmt: skip

    def start(self) -> Self:
        super().start()
        add_consumer_node(self.hostname, self.running)
        return self

    def wait_ready(self, timeout: float = 60) -> Self:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.hostname} exited:\n{self.log_tail()}")
            if app.control.ping(destination=[self.hostname], timeout=0.5):
                return self
        raise AssertionError(f"worker {self.hostname} did not answer a ping within {timeout} s:\n{self.log_tail()}")


class KindWorkerProcess(WorkerProcess):
    """A worker of one of the app's kinds (io, cpu), started as the Procfile and compose start it.

    `python -m tradingweb.worker <kind>`, with this process's node name and concurrency.
    """

    def __init__(self, kind: str, *, concurrency: int, env: dict | None = None):
        super().__init__(kind, concurrency=concurrency, env=env)
        self.kind = kind

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "tradingweb.worker", self.kind, "--concurrency", str(self.concurrency),
            "--hostname", self.hostname, "--without-mingle", "--without-gossip", "--loglevel", "INFO",
        ]  # fmt: skip


class BeatProcess(CeleryProcess):
    """`celery beat` with the DatabaseScheduler (the schedules of the test database)."""

    def __init__(self, name: str = "beat", *, max_interval: float = 1, env: dict | None = None):
        super().__init__(name, env=env)
        self.max_interval = max_interval

    def arguments(self) -> list[str]:
        return [
            "beat", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
            "--max-interval", str(self.max_interval), "--loglevel", "INFO",
            "--pidfile", str(self.log_path.with_suffix(".pid")),
        ]  # fmt: skip


class WebProcess(CeleryProcess):
    """The web process as the Procfile runs it: daphne serving tradingweb.asgi on a free port."""

    def __init__(self, name: str = "web", *, env: dict | None = None):
        super().__init__(name, env=env)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "tradingweb.asgi:application"]

    def wait_ready(self, timeout: float = 60) -> Self:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"daphne exited:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"daphne did not listen on {self.port} within {timeout} s:\n{self.log_tail()}")


def wait_until(predicate, timeout: float = 60, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{message} not reached within {timeout} s")


def wait_steps(seconds: float, count: int = 1) -> list[dict]:
    return [
        {"id": f"wait{n}", "type": "wait", "name": f"Wait {n}", "config": {"seconds": seconds}} for n in range(count)
    ]


def waiting_workflow(owner, seconds: float, *, steps: int = 1, name="Waits") -> Workflow:
    """A workflow that only waits (saved as is: the builder's rules want data and decision steps).

    Its run takes a known time and touches no broker or model.
    """
    workflow = Workflow.objects.create(owner=owner, name=name)
    version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=wait_steps(seconds, steps))
    workflow.current_version = version
    workflow.save(update_fields=["current_version"])
    return workflow


def waiting_execution(owner, seconds: float, *, steps=1, symbols=("AAPL",), priority="normal", workflow=None):
    """A pending execution of a waiting workflow, not yet enqueued."""
    workflow = workflow or waiting_workflow(owner, seconds, steps=steps)
    return WorkflowExecution.objects.create(
        owner=owner,
        workflow=workflow,
        version=workflow.current_version,
        symbols=list(symbols),
        params={"symbol_delay": 0},
        priority=priority,
    )


def finished(execution_id: int) -> WorkflowExecution | None:
    execution = WorkflowExecution.objects.get(pk=execution_id)
    return execution if execution.is_finished() else None
