"""Queue tests run real `celery worker` processes against the test run's PostgreSQL database and Redis.

`worker` is one shared prefork worker (concurrency 2) for the whole tests/execution/queue run. Tests that
need the queues to themselves (priority order, a killed worker, queue lengths) use `exclusive`,
which stops every other worker of this run from consuming (the shared one and the in-process
worker of tests/execution) and starts consuming again afterwards. Queues are purged after each
test so no message outlives it. The worker processes and the helpers to wait for them are in
tests/workers.py (shared with tests/integration/reliability).
"""

import pytest

from tests.workers import QUEUES, WorkerProcess
from tradingweb.celery import app


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
