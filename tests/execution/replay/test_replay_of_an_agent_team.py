"""A stored replay of an AutoGen team's run answers every agent from the record and reaches the same decisions."""

import pytest

from agents.models import LLMCall
from broker.models import Order, SimulatedOrder
from execution.replay import execution_replay
from execution.runner import run_execution
from execution.services import execution_create
from tests.execution.conftest import make_strategy, workflow_from_template


@pytest.mark.django_db(transaction=True)
def test_a_stored_replay_of_an_agent_team_reproduces_its_decisions(alice):
    workflow = workflow_from_template(alice, "autogen_multi_agent")
    strategy = make_strategy(alice, workflow, symbols=("AAPL", "MSFT"))
    original = execution_create(owner=alice, strategy=strategy, params={"symbol_delay": 0})
    run_execution(original.pk)
    original.refresh_from_db()
    assert original.status == "completed", original.error
    orders, exchange_orders = Order.objects.count(), SimulatedOrder.objects.count()

    report = execution_replay(execution=original, mode="stored", user=alice)

    assert report.identical is True, report.decisions
    assert [diff.step_id for diff in report.decisions] == ["agent_team", "agent_team"]
    assert Order.objects.count() == orders and SimulatedOrder.objects.count() == exchange_orders
    agent_calls = LLMCall.objects.filter(execution_id=report.replay_execution_id).exclude(agent_name="")
    assert agent_calls.exists() and set(agent_calls.values_list("provider", flat=True)) == {"replay"}
