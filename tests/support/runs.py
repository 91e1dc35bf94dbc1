"""Running an execution to its end in the test's process, without waiting for its waits.

A run suspends at every wait (the symbol delay, a `wait` step, a retry's backoff; see
execution.engine) and its continuation is a Celery message due later. `run_to_end` runs the
first segment, then each due continuation in-process, moving the clock (time-machine) to the
continuation's wake time instead of sleeping. The continuations are kept from the queue meanwhile,
so a worker of the test run cannot take them over. It stops when the execution has finished, or
when it waits for a person (approval).
"""

import datetime
from unittest import mock

import time_machine
from django.utils import timezone

from execution import dispatch
from execution.leases import suspended_point
from execution.models import WorkflowExecution
from execution.runner import run_execution

MAX_SEGMENTS = 500


def continuations_kept_here():
    """While active, continuations are not sent to the queue (the test runs them); yields the mock that got them."""
    return mock.patch.object(dispatch, "send_execution_run")


def run_to_end(execution_id: int) -> WorkflowExecution:
    """Run the execution's segments in order, each as soon as it is due on a clock moved forward; its row then."""
    with continuations_kept_here():
        return _run_segments(execution_id)


def _run_segments(execution_id: int) -> WorkflowExecution:
    execution = WorkflowExecution.objects.get(pk=execution_id)
    if suspended_point(execution) is None:  # not started yet (a test may have run its first segments itself)
        run_execution(execution_id)
        execution = WorkflowExecution.objects.get(pk=execution_id)
    point = suspended_point(execution)
    if execution.is_finished() or point is None or not point.get("wake_at"):
        return execution
    with time_machine.travel(timezone.now(), tick=True) as clock:
        for _ in range(MAX_SEGMENTS):
            wake_at = datetime.datetime.fromisoformat(point["wake_at"])
            if wake_at > timezone.now():
                clock.move_to(wake_at)
            run_execution(execution_id, point["token"])
            execution = WorkflowExecution.objects.get(pk=execution_id)
            point = suspended_point(execution)
            if execution.is_finished() or point is None or not point.get("wake_at"):
                return execution
    raise AssertionError(f"execution {execution_id} was still suspended after {MAX_SEGMENTS} segments")
