"""A replay from the stored model outputs reproduces the original decisions exactly and places no order."""

import pytest

from agents.models import LLMCall
from broker.models import Chart, Order, SimulatedOrder
from execution.models import StepRun, WorkflowExecution
from execution.replay import execution_replay
from tests.execution.replay.conftest import SYMBOLS


@pytest.mark.django_db(transaction=True)
def test_a_stored_replay_reproduces_every_decision_and_places_no_order(alice, finished_execution):
    orders, exchange_orders, charts = Order.objects.count(), SimulatedOrder.objects.count(), Chart.objects.count()
    assert orders > 0, "the original run should have placed at least one order for these symbols"

    report = execution_replay(execution=finished_execution, mode="stored", user=alice)

    assert report.status == "completed" and report.identical is True
    assert [diff.symbol for diff in report.decisions] == list(SYMBOLS)
    for diff in report.decisions:
        assert diff.changed == [] and diff.error == ""
        assert diff.replayed == diff.original
        assert diff.original["type"] in ("buy", "sell", "hold") and diff.original["current_price"]
    assert Order.objects.count() == orders
    assert SimulatedOrder.objects.count() == exchange_orders
    assert Chart.objects.count() == charts, "a stored replay reuses the original charts"

    replay = WorkflowExecution.objects.get(pk=report.replay_execution_id)
    assert replay.dry_run and replay.params["replay_of"] == finished_execution.pk
    assert replay.owner == alice and replay.results["replay"]["identical"] is True
    assert not Order.objects.filter(execution=replay).exists()
    placed = StepRun.objects.filter(execution=replay, step_type="place_order", status="completed")
    assert all(run.output["dry_run"] for run in placed)
    calls = LLMCall.objects.filter(execution=replay)
    assert calls.exists() and set(calls.values_list("provider", flat=True)) == {"replay"}
    assert sum(call.tokens_in + call.tokens_out for call in calls) == 0
