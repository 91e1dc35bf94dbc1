"""What the server benchmarks (bench/api.py, bench/ws.py) share: a throwaway database and an ASGI server.

Not a benchmark itself (`make bench` runs bench/*.py only).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[2]
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


class ThrowawayDatabase:
    """A PostgreSQL database created next to BENCH_DATABASE_URL's and dropped (forcibly) at the end."""

    def __init__(self, name: str):
        self.name = name
        self.url = urlunparse(urlparse(SERVER_URL)._replace(path=f"/{name}"))

    def create(self) -> "ThrowawayDatabase":
        import psycopg

        with psycopg.connect(SERVER_URL, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        import psycopg

        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        with psycopg.connect(SERVER_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_asgi_server(kind: str, port: int, env: dict, workers: int = 1) -> subprocess.Popen:
    """daphne (as the Procfile runs it) or uvicorn with `workers` processes, on 127.0.0.1:`port`."""
    if kind == "daphne":
        args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "tradingweb.asgi:application"]
    else:
        args = [sys.executable, "-m", "uvicorn", "tradingweb.asgi:application", "--host", "127.0.0.1", "--port",
                str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    server = subprocess.Popen(
        args, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"{kind} exited with code {server.returncode}") from None
            time.sleep(0.2)
    raise SystemExit(f"{kind} did not listen on port {port} within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:  # daphne waits for open keep-alive connections
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the (sorted, non-empty) values lie (nearest rank)."""
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]
