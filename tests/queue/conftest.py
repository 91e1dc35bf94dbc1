"""Queue tests run real `celery worker` processes against the test run's PostgreSQL database and Redis.

`worker` is one shared prefork worker (concurrency 2) for the whole tests/queue run. Tests that
need the queues to themselves (priority order, a killed worker, queue lengths) use `exclusive`,
which stops every other worker of this run from consuming (the shared one and the in-process
worker of tests/execution) and starts consuming again afterwards. Queues are purged after each
test so no message outlives it.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from execution.models import WorkflowExecution
from tradingweb.celery import app
from workflows.models import Workflow, WorkflowVersion

QUEUES = ("high", "normal", "low")
ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


class WorkerProcess:
    """A `celery worker` subprocess in its own process group, with its output in a log file."""

    def __init__(self, name: str, *, concurrency: int = 1, env: dict | None = None):
        self.hostname = f"{name}-{uuid.uuid4().hex[:6]}@{settings.REDIS_KEY_PREFIX.strip(':')}"
        self.concurrency = concurrency
        self.extra_env = env or {}
        self.log_path = Path(settings.VAR_DIR) / f"{self.hostname.split('@')[0]}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
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
        args = [
            sys.executable, "-m", "celery", "-A", "tradingweb", "worker",
            "-Q", ",".join(QUEUES), "--pool", "prefork", "--concurrency", str(self.concurrency),
            "--hostname", self.hostname, "--without-mingle", "--without-gossip", "--loglevel", "INFO",
        ]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def wait_ready(self, timeout: float = 60) -> "WorkerProcess":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.hostname} exited:\n{self.log_tail()}")
            if app.control.ping(destination=[self.hostname], timeout=0.5):
                return self
        raise AssertionError(f"worker {self.hostname} did not answer a ping within {timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL to the main process and its pool children: no shutdown, no acknowledgement."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # warm shutdown of the main process: it finishes its current task
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture(scope="session")
def worker(django_db_setup, django_db_blocker):
    """The shared worker (prefork, concurrency 2) of the queue tests."""
    process = WorkerProcess("shared", concurrency=2).start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _consuming_workers() -> list[str]:
    return [name for reply in app.control.ping(timeout=0.5) or [] for name in reply]


class Exclusive:
    """Stops the other workers of this run from consuming; `resume()` (or the test's end) lets them again."""

    def __init__(self):
        self.others = _consuming_workers()
        self._control("cancel_consumer")

    def _control(self, command: str) -> None:
        for queue in QUEUES:
            if self.others:
                getattr(app.control, command)(queue, destination=self.others, reply=True, timeout=2)

    def resume(self) -> None:
        self._control("add_consumer")
        self.others = []


@pytest.fixture
def exclusive():
    """No other worker of this run consumes the queues during the test (until `exclusive.resume()`)."""
    paused = Exclusive()
    try:
        yield paused
    finally:
        paused.resume()


@pytest.fixture(autouse=True)
def empty_queues():
    app.control.purge()
    yield
    app.control.purge()


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
