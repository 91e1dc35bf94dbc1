"""The real `python -m tradingweb.launcher` (make run) in a subprocess, and what a test asks of its run.

The launcher runs in a session of its own (as under a terminal of its own), on SQLite and its private
Redis in the given VAR_DIR. Every process of a run carries that VAR_DIR in its environment (the
launcher exports it to its children, and they to theirs), which is how a test finds what is left.
"""

import http.cookiejar
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest
from django.conf import settings

START_TIMEOUT_SECONDS = 75
STOP_TIMEOUT_SECONDS = 30
# Variables of the test run that would switch the launcher away from embedded mode.
TEST_RUN_VARIABLES = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "MEDIA_ROOT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def still_running(processes: list[psutil.Process]) -> list[str]:
    running = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(f"{process.pid} {' '.join(process.cmdline())}")
        except psutil.NoSuchProcess:
            continue
    return running


def processes_of_run(var_dir: Path) -> list[psutil.Process]:
    """Every live process whose environment says it belongs to the run on `var_dir`."""
    found = []
    for process in psutil.process_iter(["environ"], ad_value=None):
        if (process.info["environ"] or {}).get("VAR_DIR") == str(var_dir):
            found.append(process)
    return [process for process in found if still_running([process])]


def left_behind(var_dir: Path, timeout: float) -> list[str]:
    """The processes of the run still there after `timeout` seconds ([] as soon as none is)."""
    deadline = time.monotonic() + timeout
    while (left := still_running(processes_of_run(var_dir))) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


class RunningLauncher:
    """The launcher in a subprocess, its output collected line by line on a thread."""

    def __init__(self, port: int, var_dir: Path, env: dict[str, str] | None = None):
        self.port = port
        self.var_dir = var_dir
        launcher_env = {key: value for key, value in os.environ.items() if key not in TEST_RUN_VARIABLES}
        launcher_env.update(
            PORT=str(port),
            VAR_DIR=str(var_dir),
            PYTHONUNBUFFERED="1",
            CELERY_IO_WORKER_CONCURRENCY="4",
            CELERY_CPU_WORKER_CONCURRENCY="1",
            **(env or {}),
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tradingweb.launcher"],
            cwd=settings.BASE_DIR,
            env=launcher_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.new_lines: queue.Queue[str] = queue.Queue()
        self.collector = threading.Thread(target=self._collect, daemon=True)
        self.collector.start()

    def _collect(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self.new_lines.put(line)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.new_lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if match := re.search(pattern, line):
                return match
        pytest.fail(f"launcher never printed {pattern!r}; output:\n" + "\n".join(self.lines[-60:]))

    def wait_until_serving(self) -> str:
        """The app's base URL, once the launcher printed its banner."""
        return self.wait_for(r"tradingweb is running at (http://\S+?)/?$", START_TIMEOUT_SECONDS).group(1)

    def wait_until_workers_ready(self) -> None:
        """Both worker kinds have said they are ready (the banner comes once the web server serves)."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        logs = [self.var_dir / "logs" / f"{worker}.log" for worker in ("worker-io", "worker-cpu")]
        while not all(log.exists() and " ready." in log.read_text() for log in logs):
            if time.monotonic() > deadline:
                pytest.fail("the workers never said they were ready; output:\n" + "\n".join(self.lines[-60:]))
            time.sleep(0.5)

    def wait(self, timeout: float) -> int:
        """The exit code, once the process ended and all its output was read."""
        returncode = self.process.wait(timeout=timeout)
        self.collector.join(timeout=5)
        return returncode

    def output(self) -> str:
        return "\n".join(self.lines)

    def child(self, name: str) -> psutil.Process:
        """The launcher's child started last under `name` (web, worker-io, worker-cpu, beat, redis)."""
        pid = int(re.findall(rf"started {name} \(pid (\d+)\)", self.output())[-1])
        return psutil.Process(pid)

    def redis_port(self) -> int:
        return int(re.search(r"--port (\d+)", self.output()).group(1))

    def demo_password(self) -> str:
        return re.search(r"trader login: demo / (\S+)", self.output()).group(1)

    def end(self) -> None:
        """Stops whatever is left of the run: a failed test must not leave a launcher, Redis or Celery behind."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        for process in processes_of_run(self.var_dir):
            process.kill()


class Browser:
    """A logged-in session on the app: pages, and API calls with the session's CSRF token."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def log_in(self, username: str, password: str):
        login_url = f"{self.base_url}/accounts/login/"
        login_page = self.opener.open(login_url, timeout=30).read().decode()
        csrf_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf_token})
        request = urllib.request.Request(login_url, data=form.encode(), headers={"Referer": login_url})
        return self.opener.open(request, timeout=30)

    def get_json(self, path: str):
        with self.opener.open(f"{self.base_url}{path}", timeout=30) as response:
            return json.load(response)

    def post_json(self, path: str, payload: dict) -> tuple[int, dict]:
        csrf_token = next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": csrf_token, "Referer": self.base_url + "/"},
        )
        with self.opener.open(request, timeout=30) as response:
            return response.status, json.load(response)
