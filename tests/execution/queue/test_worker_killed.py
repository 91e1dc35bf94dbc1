"""A worker killed with SIGKILL mid-execution: the task is redelivered, the execution completes, nothing twice.

The workers here get CELERY_VISIBILITY_TIMEOUT=3, so the unacknowledged message of the dead worker
is handed out again within seconds (in production the timeout is hours, above the soft time limit).
"""

import pytest

from broker.adapters.simulated import SimulatedAdapter
from broker.models import Order
from execution.models import StepRun, WorkflowExecution
from execution.services import execution_create, execution_enqueue
from tests.execution.conftest import make_strategy, workflow_from_template
from tests.workers import WorkerProcess, finished, wait_until

pytestmark = pytest.mark.processes

SHORT_VISIBILITY = {"CELERY_VISIBILITY_TIMEOUT": "3"}


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_s_execution_is_redelivered_and_completes_without_a_second_order(alice, market_open, exclusive):
    workflow = workflow_from_template(alice, "single_timeframe")
    strategy = make_strategy(alice, workflow, symbols=("AAPL", "MSFT"))
    # A pause between symbols gives the kill a moment after the first symbol's order.
    execution = execution_create(owner=alice, strategy=strategy, params={"symbol_delay": 2})
    execution_enqueue(execution)

    first = WorkerProcess("doomed", concurrency=1, env=SHORT_VISIBILITY).start()
    try:
        first.wait_ready()
        wait_until(
            lambda: WorkflowExecution.objects.get(pk=execution.pk).progress.get("completed_symbols", 0) >= 1,
            timeout=90,
            message="the first symbol done",
        )
        first.kill()
    finally:
        first.stop()
    before = WorkflowExecution.objects.get(pk=execution.pk)
    assert not before.is_finished(), "the kill was meant to land in the middle of the run"
    kept = {run.pk: run.status for run in StepRun.objects.filter(execution=execution).exclude(status="running")}
    orders_before = set(
        Order.objects.filter(execution=execution, parent__isnull=True).values_list("idempotency_key", flat=True)
    )

    second = WorkerProcess("rescuer", concurrency=1, env=SHORT_VISIBILITY).start()
    try:
        second.wait_ready()
        done = wait_until(lambda: finished(execution.pk), timeout=120, message="the redelivered execution finished")
    finally:
        second.stop()

    assert done.status == WorkflowExecution.Status.COMPLETED, done.error
    # Killed in its symbol delay, the run was suspended: it goes on, nothing interrupted; killed mid-segment, it is
    # taken over once. (`attempt` counts segments: a run continues in one per wait.)
    assert done.interruptions <= 1
    runs = StepRun.objects.filter(execution=execution)
    assert {run.pk: run.status for run in runs.filter(pk__in=kept)} == kept  # no step run lost or rewritten
    assert not runs.filter(status="running").exists()
    for symbol in ("AAPL", "MSFT"):
        finished_steps = set(
            runs.filter(symbol=symbol, status__in=["completed", "skipped"]).values_list("step_id", flat=True)
        )
        assert finished_steps == {step["id"] for step in workflow.current_version.steps}, symbol
    orders = list(Order.objects.filter(execution=execution, parent__isnull=True))
    assert orders and orders_before <= {order.idempotency_key for order in orders}
    broker = SimulatedAdapter()
    for order in orders:  # the exchange holds exactly one order per idempotency key
        assert [state.broker_order_id for state in broker.find_orders_by_ref(order.idempotency_key)] == [
            order.broker_order_id
        ]
    assert len({order.decision_id for order in orders}) == len(orders)  # one order per decision
