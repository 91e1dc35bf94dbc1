"""`python -m tradingweb.launcher` (make run) on a fresh VAR_DIR: starts, serves, logs in, stops cleanly."""

import json
import re
import signal
import socket
import urllib.request

import psutil
import pytest

from tests.support.launcher import (
    START_TIMEOUT_SECONDS,
    STOP_TIMEOUT_SECONDS,
    Browser,
    RunningLauncher,
    free_port,
    port_is_open,
    still_running,
)


@pytest.fixture
def launcher(tmp_path):
    running = RunningLauncher(free_port(), tmp_path / "var")
    yield running
    running.end()


def test_make_run_serves_the_app_logs_in_the_demo_trader_and_stops_every_process_on_ctrl_c(launcher):
    url = launcher.wait_until_serving()
    password = launcher.demo_password()
    redis_port = launcher.redis_port()
    children = psutil.Process(launcher.process.pid).children(recursive=True)
    commands = [" ".join(child.cmdline()) for child in children]
    assert any("redis-server" in command for command in commands), commands
    assert any("daphne" in command for command in commands), commands
    assert any("worker --pool threads" in command for command in commands), commands  # the io worker
    assert any("worker --pool prefork" in command for command in commands), commands  # the cpu worker
    assert any("beat" in command for command in commands), commands

    with urllib.request.urlopen(f"{url}/api/health/", timeout=30) as response:
        health = json.load(response)
    assert health["components"]["queue"]["details"]["url"] == f"redis://127.0.0.1:{redis_port}/0"

    response = Browser(url).log_in("demo", password)
    dashboard = response.read().decode()
    assert response.status == 200
    assert response.geturl().rstrip("/") == url
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
    redis_port = launcher.redis_port()

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
