"""Queue tests run real `celery worker` processes against the test run's PostgreSQL database and Redis.

`worker` is one shared prefork worker (concurrency 2) for the whole tests/execution/queue run. Tests that
need the queues to themselves (priority order, a killed worker, queue lengths) use `exclusive`,
which stops every other worker of this run from consuming (the shared one and the in-process
worker of tests/execution) and starts consuming again afterwards. Queues are purged after each
test so no message outlives it. The worker processes and the helpers to wait for them are in
tests/workers.py (shared with tests/integration/reliability).
"""

import pytest

from tests.workers import WorkerProcess, consumer_nodes, start_consuming, stop_consuming
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


class Exclusive:
    """Stops the other workers of this run from consuming, and waits until each says it has; `resume()` (or
    the test's end) lets them again."""

    def __init__(self):
        self.others = consumer_nodes()
        try:
            stop_consuming(self.others)
        except BaseException:
            self.resume()
            raise

    def resume(self) -> None:
        start_consuming(self.others)
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
