"""DELETE /api/tasks/{task_id}/: a queued execution never starts; a running one stops with its partial results."""

from decimal import Decimal

import pytest

from broker.adapters import OrderRequest
from broker.adapters.simulated import SimulatedAdapter
from broker.instruments import qualify_symbol
from broker.models import Order
from execution.cancel import terminate_if_still_running
from execution.models import StepRun, WorkflowExecution
from execution.services import execution_enqueue
from tests.workers import finished, wait_until, waiting_execution
from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.processes

# Busy for 5 s without ever looking at the cancel flag (a custom step can do that).
STUBBORN_CODE = """
import datetime
until = datetime.datetime.now() + datetime.timedelta(seconds=5)
while datetime.datetime.now() < until:
    pass
result = {"done": True}
"""


@pytest.mark.django_db(transaction=True)
def test_a_queued_execution_that_is_cancelled_never_starts(alice, alice_api, worker, exclusive):
    cancelled = waiting_execution(alice, 0)
    task_id = execution_enqueue(cancelled)

    response = alice_api.delete(f"/api/tasks/{task_id}/")

    assert response.status_code == 200
    assert response.json()["status"] == "REVOKED"
    follower = waiting_execution(alice, 0)
    execution_enqueue(follower)
    exclusive.resume()
    wait_until(lambda: finished(follower.pk), message="the execution queued after the cancelled one finished")
    cancelled.refresh_from_db()
    assert cancelled.status == WorkflowExecution.Status.CANCELLED
    assert cancelled.started_at is None and cancelled.attempt == 0
    assert not StepRun.objects.filter(execution=cancelled).exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_is_cancelled_at_once_inside_its_wait_and_keeps_its_partial_results(alice, alice_api, worker):
    execution = waiting_execution(alice, 30, symbols=("AAPL", "MSFT"))
    task_id = execution_enqueue(execution)
    wait_until(lambda: StepRun.objects.filter(execution=execution, status="running").exists(), message="step running")

    response = alice_api.delete(f"/api/tasks/{task_id}/")

    assert response.status_code == 200  # a run waiting holds no worker: the cancel is final at once
    done = wait_until(lambda: finished(execution.pk), timeout=20, message="the cancelled run stopped")
    assert done.status == WorkflowExecution.Status.CANCELLED
    run = StepRun.objects.get(execution=execution)
    assert run.symbol == "AAPL" and run.output["cancelled"] is True and run.output["waited_seconds"] < 30
    assert alice_api.get(f"/api/tasks/{task_id}/").json()["status"] == "REVOKED"


@pytest.mark.django_db(transaction=True)
def test_a_run_that_ignores_the_cancel_is_terminated_after_the_grace_period(alice, alice_api, worker, settings):
    settings.CANCEL_GRACE_SECONDS = 1
    workflow = Workflow.objects.create(owner=alice, name="Stubborn")
    steps = [{"id": "spin", "type": "custom_code", "name": "Spin", "config": {"code": STUBBORN_CODE, "timeout": 10}}]
    workflow.current_version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=steps)
    workflow.save(update_fields=["current_version"])
    execution = waiting_execution(alice, 0, symbols=("AAPL", "MSFT"), workflow=workflow)
    task_id = execution_enqueue(execution)
    wait_until(lambda: StepRun.objects.filter(execution=execution, status="running").exists(), message="step running")

    assert alice_api.delete(f"/api/tasks/{task_id}/").status_code == 202

    done = wait_until(lambda: finished(execution.pk), timeout=20, message="the run was terminated")
    assert done.status == WorkflowExecution.Status.CANCELLED
    assert "did not stop within 1 s and was terminated" in done.error
    run = StepRun.objects.get(execution=execution)
    assert run.status == StepRun.Status.CANCELLED


def _order_in_flight(owner, execution, key: str) -> Order:
    return Order.objects.create(
        owner=owner,
        execution=execution,
        instrument=qualify_symbol("AAPL"),
        side=Order.Side.BUY,
        quantity=Decimal("5"),
        order_type=Order.Type.LIMIT,
        limit_price=Decimal("150"),
        tif=Order.TimeInForce.DAY,
        idempotency_key=key,
        paper=True,
    )


@pytest.mark.django_db(transaction=True)
def test_a_cancel_that_lands_during_place_order_leaves_no_order_in_doubt(alice):
    """The run was terminated between saving its orders and hearing back from the broker."""
    execution = waiting_execution(alice, 0)
    WorkflowExecution.objects.filter(pk=execution.pk).update(status="running", cancel_requested=True)
    StepRun.objects.create(
        execution=execution, symbol="AAPL", index=0, step_id="order", step_type="place_order", status="running"
    )
    reached = _order_in_flight(alice, execution, "tw-cancel-reached")
    lost = _order_in_flight(alice, execution, "tw-cancel-lost")
    SimulatedAdapter().place_order(
        OrderRequest(
            conid=reached.instrument.conid,
            symbol="AAPL",
            side="BUY",
            quantity=Decimal("5"),
            order_type="LMT",
            limit_price=Decimal("150"),
            tif="DAY",
            order_ref=reached.idempotency_key,
        )
    )

    assert terminate_if_still_running(execution.pk) == "terminated"

    reached.refresh_from_db()
    lost.refresh_from_db()
    assert reached.broker_order_id and reached.status != Order.Status.PENDING
    assert lost.status == Order.Status.NEEDS_RECONCILIATION and "needs reconciliation" in lost.status_message
    step = StepRun.objects.get(execution=execution)
    assert step.status == StepRun.Status.CANCELLED and step.output["message"] == "submitted, needs reconciliation"
    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_only_the_owner_or_staff_may_cancel_and_a_finished_task_cannot_be(alice, bob_api, staff_api, alice_api):
    execution = waiting_execution(alice, 0)
    WorkflowExecution.objects.filter(pk=execution.pk).update(task_id="task-of-alice", status="completed")

    assert bob_api.delete("/api/tasks/task-of-alice/").status_code == 404
    assert staff_api.delete("/api/tasks/task-of-alice/").status_code == 409
    response = alice_api.delete("/api/tasks/task-of-alice/")
    assert response.status_code == 409 and "already completed" in response.json()["detail"]
