"""Queues are consumed in strict priority order: high before normal before low, in every worker process.

The backlog is 200 low-priority executions; only the first few run before the test has its answer.
"""

import pytest
from kombu.utils.scheduling import cycle_by_name

from execution.models import WorkflowExecution
from execution.queue_order import StrictPriorityCycle
from execution.services import execution_enqueue
from tests.workers import WorkerProcess, wait_until, waiting_execution, waiting_workflow

pytestmark = pytest.mark.processes

BACKLOG = 200


def test_the_queue_cycle_offers_high_normal_low_whatever_order_it_is_given(settings):
    cycle = cycle_by_name(settings.CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"])()
    assert isinstance(cycle, StrictPriorityCycle)
    for given in (["low", "normal", "high"], ["normal", "high", "low"], {"high", "low", "normal"}):
        cycle.update(given)
        assert cycle.consume(3) == ["high", "normal", "low"]


def _submit(workflow, priority: str) -> WorkflowExecution:
    execution = waiting_execution(workflow.owner, 0, priority=priority, workflow=workflow)
    execution_enqueue(execution)
    return execution


def _started(executions) -> list[WorkflowExecution]:
    rows = WorkflowExecution.objects.filter(pk__in=[e.pk for e in executions], started_at__isnull=False)
    return list(rows.order_by("started_at"))


@pytest.mark.django_db(transaction=True)
def test_a_high_priority_execution_starts_before_any_further_low_one(alice, exclusive):
    low_workflow = waiting_workflow(alice, 0.2, name="Low backlog")
    high_workflow = waiting_workflow(alice, 0, name="Urgent")
    lows = [_submit(low_workflow, "low") for _ in range(BACKLOG)]
    first_high = _submit(high_workflow, "high")
    # Started after the queueing, with a hash seed under which kombu's own "priority" order is low-first.
    worker = WorkerProcess("priority", concurrency=1, env={"PYTHONHASHSEED": "1"}).start()
    try:
        worker.wait_ready()
        wait_until(lambda: len(_started(lows)) >= 3, message="three low executions started")
        first_high.refresh_from_db()
        assert first_high.started_at is not None
        assert first_high.started_at < min(low.started_at for low in _started(lows))

        lows_started_before = len(_started(lows))
        second_high = _submit(high_workflow, "high")
        wait_until(lambda: WorkflowExecution.objects.get(pk=second_high.pk).started_at, message="second high started")
        second_high.refresh_from_db()
        lows_started_ahead = [low for low in _started(lows) if low.started_at < second_high.started_at]
        # At most the low run the worker was busy with when the high one arrived slips in between.
        assert len(lows_started_ahead) <= lows_started_before + 1
        assert len(_started(lows)) < BACKLOG
    finally:
        worker.stop()
