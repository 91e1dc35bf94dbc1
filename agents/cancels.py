"""A model call's waits end as soon as its execution is cancelled.

A call may wait a long while before it sends: out a provider's Retry-After (30 s is common) or its
own backoff (agents.calls), or for room within the provider's limits (agents.limits). The engine
reads an execution's cancel flag between steps, so without these checks a cancel would wait for the
call too, and the retry would still be sent. While a call of an execution waits, it reads the
flag every CHECK_SECONDS and raises CallCancelled once it is set; the engine records the step
cancelled (execution.engine). The flag is WorkflowExecution.cancel_requested, read through its
string reference: agents does not import execution.
"""

from __future__ import annotations

import time

from django.apps import apps

# How often a waiting call reads its execution's cancel flag: a cancel ends the wait within this.
CHECK_SECONDS = 0.25


class CallCancelled(Exception):
    """The execution a model call works for was cancelled while the call waited; the call sends nothing more."""


class CancelWatch:
    """Reads one execution's cancel flag for a waiting call, at most once every CHECK_SECONDS.

    A call of no execution (a test, the admin's provider check) waits without reading anything.
    """

    def __init__(self, execution_id: int | None, what: str):
        self.execution_id = execution_id
        self.what = what
        self.next_check = 0.0

    def check(self) -> None:
        """Raises CallCancelled when the execution's cancel flag is set (read unless it was just read)."""
        if self.execution_id is None:
            return
        now = time.monotonic()
        if now < self.next_check:
            return
        self.next_check = now + CHECK_SECONDS
        execution_model = apps.get_model("execution", "WorkflowExecution")
        if execution_model.objects.filter(pk=self.execution_id, cancel_requested=True).exists():
            raise CallCancelled(f"execution {self.execution_id} was cancelled while {self.what}")

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`; raises CallCancelled as soon as the execution's cancel flag is seen."""
        if self.execution_id is None:
            time.sleep(max(seconds, 0.0))
            return
        deadline = time.monotonic() + seconds
        while True:
            self.check()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, CHECK_SECONDS))
