"""The kill switch and a paused strategy stop an order at the moment it is about to be placed.

An execution parked for approval passed every check when it parked; the kill switch turned on, or
its strategy paused after a loss streak, while a person thought must still keep its order from
the broker once the approval resumes it.
"""

import pytest

from broker.models import RiskLimits, SimulatedOrder
from execution.models import StepRun, WorkflowExecution
from tests.execution.approvals.conftest import entry_order, park_here, wait_for_end


def pause_for_losses(strategy):
    strategy.active = False
    strategy.paused_reason = "Paused after 4 consecutive losing trades (2026-03-04)."
    strategy.save(update_fields=["active", "paused_reason"])


def kill_switch_on(strategy):
    RiskLimits.objects.update_or_create(pk=1, defaults={"kill_switch": True, "kill_switch_reason": "Gateway drill"})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "stop, reason",
    [
        (pause_for_losses, "is paused (Paused after 4 consecutive losing trades"),
        (kill_switch_on, "Trading is halted by the kill switch (Gateway drill)"),
    ],
    ids=["loss-streak pause", "kill switch"],
)
def test_an_approved_order_is_refused_when_trading_stopped_while_it_waited(
    alice, alice_api, celery_worker, stop, reason
):
    execution = park_here(alice)
    stop(execution.strategy)

    assert alice_api.post(f"/api/workflow-executions/{execution.pk}/approve/").status_code == 202

    finished = wait_for_end(execution.pk)
    assert finished.status in (WorkflowExecution.Status.COMPLETED, WorkflowExecution.Status.FAILED)
    decision = execution.decisions.get()
    assert entry_order(decision) is None
    assert not SimulatedOrder.objects.exists()
    order_run = StepRun.objects.filter(execution=execution, step_id="place_order").latest("id")
    assert order_run.status == StepRun.Status.FAILED
    assert reason in order_run.error
