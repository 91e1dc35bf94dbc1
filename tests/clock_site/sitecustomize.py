"""Moves this process's wall clock when TEST_CLOCK says so, so all processes of a test run share one.

tests/settings.py puts this folder on PYTHONPATH, so every Python process the suite starts (Celery
workers, beat, the launcher and its children) imports this at start-up; `make test-clocks` puts
the pytest process itself under it too. TEST_CLOCK is an ISO 8601 instant, optionally followed by
"@<real epoch seconds>", the moment of the real clock at which the moved clock read that instant.
A process that finds a bare instant anchors it to its own start and hands the anchored form to its
children, so a worker started a minute later reads the same time as its parent. Without
TEST_CLOCK nothing is imported.
"""

import os


def _move_the_clock(value: str) -> None:
    import time
    from datetime import datetime, timedelta

    import time_machine

    instant, _, anchor = value.partition("@")
    if not anchor:
        anchor = repr(time.time())
        os.environ["TEST_CLOCK"] = f"{instant}@{anchor}"
    moved = datetime.fromisoformat(instant) + timedelta(seconds=time.time() - float(anchor))
    time_machine.travel(moved, tick=True).start()


if os.environ.get("TEST_CLOCK"):
    _move_the_clock(os.environ["TEST_CLOCK"])
