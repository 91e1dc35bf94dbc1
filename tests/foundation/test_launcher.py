"""`python -m tradingweb.launcher` (make run) on a fresh VAR_DIR: starts, serves, logs in, stops cleanly."""

import http.cookiejar
import json
import os
import queue
import re
import signal
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


def still_running(processes: list[psutil.Process]) -> list[str]:
    running = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(f"{process.pid} {' '.join(process.cmdline())}")
        except psutil.NoSuchProcess:
            continue
    return running


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class RunningLauncher:
    """The launcher in a subprocess, its output collected line by line on a thread."""

    def __init__(self, port: int, var_dir: Path):
        env = {key: value for key, value in os.environ.items() if key not in TEST_RUN_VARIABLES}
        env.update(PORT=str(port), VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1", CELERY_WORKER_CONCURRENCY="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tradingweb.launcher"],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
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

    def wait(self, timeout: float) -> int:
        """The exit code, once the process ended and all its output was read."""
        returncode = self.process.wait(timeout=timeout)
        self.collector.join(timeout=5)
        return returncode

    def output(self) -> str:
        return "\n".join(self.lines)


def log_in_and_open_dashboard(base_url: str, username: str, password: str) -> tuple[int, str, str]:
    cookies = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    login_page = browser.open(f"{base_url}/accounts/login/", timeout=30).read().decode()
    csrf_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf_token})
    response = browser.open(
        urllib.request.Request(
            f"{base_url}/accounts/login/", data=form.encode(), headers={"Referer": f"{base_url}/accounts/login/"}
        ),
        timeout=30,
    )
    return response.status, response.geturl(), response.read().decode()


@pytest.fixture
def launcher(tmp_path):
    running = RunningLauncher(free_port(), tmp_path / "var")
    yield running
    if running.process.poll() is None:
        # A failed test must not leave a launcher, Redis or Celery behind either.
        parent = psutil.Process(running.process.pid)
        tree = [parent, *parent.children(recursive=True)]
        running.process.terminate()
        _, leftovers = psutil.wait_procs(tree, timeout=STOP_TIMEOUT_SECONDS)
        for process in leftovers:
            process.kill()


def test_make_run_serves_the_app_logs_in_the_demo_trader_and_stops_every_process_on_ctrl_c(launcher):
    url = launcher.wait_for(r"tradingweb is running at (http://\S+?)/?$", START_TIMEOUT_SECONDS).group(1)
    password = re.search(r"trader login: demo / (\S+)", launcher.output()).group(1)
    redis_port = int(re.search(r"--port (\d+)", launcher.output()).group(1))
    children = psutil.Process(launcher.process.pid).children(recursive=True)
    commands = [" ".join(child.cmdline()) for child in children]
    assert any("redis-server" in command for command in commands), commands
    assert any("daphne" in command for command in commands), commands
    assert any("worker" in command for command in commands), commands
    assert any("beat" in command for command in commands), commands

    with urllib.request.urlopen(f"{url}/api/health/", timeout=30) as response:
        health = json.load(response)
    assert health["components"]["queue"]["details"]["url"] == f"redis://127.0.0.1:{redis_port}/0"

    status, final_url, dashboard = log_in_and_open_dashboard(url, "demo", password)
    assert status == 200
    assert final_url.rstrip("/") == url
    assert "Dashboard" in dashboard
    assert "demo" in dashboard
    assets = set(re.findall(r'(?:href|src)="(/static/[^"?#]+\.(?:css|js))"', dashboard))
    assert any(asset.endswith(".css") for asset in assets), "the dashboard links no stylesheet"
    for asset in assets:
        with urllib.request.urlopen(f"{url}{asset}", timeout=10) as response:
            assert response.status == 200 and response.read(), asset

    launcher.process.send_signal(signal.SIGINT)
    assert launcher.wait(STOP_TIMEOUT_SECONDS) == 0, launcher.output()[-3000:]

    psutil.wait_procs(children, timeout=5)
    assert still_running(children) == []
    assert not port_is_open(redis_port)
    assert not port_is_open(int(url.rsplit(":", 1)[1]))


def test_sigterm_during_startup_stops_redis_and_the_running_step(launcher):
    launcher.wait_for(r"started migrate \(pid \d+\)", START_TIMEOUT_SECONDS)
    children = psutil.Process(launcher.process.pid).children(recursive=True)
    redis_port = int(re.search(r"--port (\d+)", launcher.output()).group(1))

    launcher.process.send_signal(signal.SIGTERM)

    assert launcher.wait(STOP_TIMEOUT_SECONDS) == 0, launcher.output()[-3000:]
    assert "SIGTERM received; stopping" in launcher.output()
    psutil.wait_procs(children, timeout=5)
    assert still_running(children) == []
    assert not port_is_open(redis_port)


def test_it_refuses_a_port_that_is_already_taken_and_says_so(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        running = RunningLauncher(port, tmp_path / "var")

        assert running.wait(STOP_TIMEOUT_SECONDS) == 1

    assert f"port {port} on 127.0.0.1 is in use" in running.output()
    assert "started" not in running.output()
