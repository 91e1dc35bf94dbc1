"""`make up` (honcho and the Procfile) leaves nothing running when its terminal is closed.

Closing a terminal sends SIGHUP to the process group in its foreground: make, honcho and honcho's
helper processes, which die of it; web, worker and beat run in sessions of their own and are
stopped by their parent-death signal (the Procfile starts each under `setpriv --pdeathsig TERM`).
honcho runs here as the Makefile runs it, on a SQLite file of the test's own and the run's Redis
under a key prefix of the test's own, so its worker takes no task of any other test.
"""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.support.launcher import TEST_RUN_VARIABLES, free_port, left_behind, port_is_open, processes_of_run

START_TIMEOUT_SECONDS = 90
GONE_WITHIN_SECONDS = 20
BIN = Path(sys.executable).parent


def test_closing_the_terminal_of_make_up_stops_web_worker_and_beat(tmp_path):
    if not settings.REDIS_URL:
        pytest.skip("make up needs a Redis server")
    var_dir = tmp_path / "var"
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in TEST_RUN_VARIABLES}
    env.update(
        VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=settings.REDIS_URL,
        REDIS_KEY_PREFIX=f"{settings.REDIS_KEY_PREFIX}make-up-{port}:",
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",  # as the Makefile's `up` recipe sets it
        PYTHONUNBUFFERED="1",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
    )
    no_dotenv = tmp_path / "empty.env"  # a developer's own .env must not change the run
    no_dotenv.touch()
    honcho = subprocess.Popen(
        [BIN / "honcho", "start", "-f", "Procfile", "-e", no_dotenv, "-p", str(port)],
        cwd=settings.BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job has
        # and SIGHUP's default action, as a shell gives its jobs (the test run may ignore it, under nohup say)
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []
    threading.Thread(target=lambda: [lines.put(line) for line in honcho.stdout], daemon=True).start()
    try:
        waiting_for = {"Listening on TCP address", "ready.", "beat: Starting"}
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while waiting_for and time.monotonic() < deadline:
            try:
                output.append(lines.get(timeout=0.5))
            except queue.Empty:
                continue
            waiting_for -= {text for text in waiting_for if text in output[-1]}
        assert not waiting_for, "".join(output[-60:])
        assert port_is_open(port)

        os.killpg(honcho.pid, signal.SIGHUP)

        assert left_behind(var_dir, timeout=GONE_WITHIN_SECONDS) == []
        assert not port_is_open(port)
    finally:
        for process in processes_of_run(var_dir):
            process.kill()
