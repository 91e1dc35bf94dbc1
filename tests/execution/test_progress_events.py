"""Progress events reach the execution's websocket group and the monitor group, with the owner inside."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers

from execution.models import WorkflowExecution
from execution.runner import run_execution
from workflows.models import Workflow, WorkflowVersion


def _drain(layer, channel) -> list[dict]:
    async def receive_all():
        events = []
        while True:
            try:
                events.append(await asyncio.wait_for(layer.receive(channel), timeout=2))
            except TimeoutError:
                return events
            if events[-1]["type"] == "execution.status" and events[-1]["status"] == "completed":
                return events

    return async_to_sync(receive_all)()


@pytest.mark.django_db(transaction=True)
def test_it_publishes_status_and_step_events_to_the_execution_and_monitor_groups(alice):
    workflow = Workflow.objects.create(owner=alice, name="Events")
    steps = [{"id": "pause", "type": "wait", "name": "Pause", "config": {"seconds": 0}}]
    version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=steps)
    execution = WorkflowExecution.objects.create(
        owner=alice, workflow=workflow, version=version, symbols=["AAPL"], params={"symbol_delay": 0}
    )
    # The listening side has a layer of its own, as a websocket consumer in the web process has:
    # no other code of this process shares its channels.
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    execution_channel = async_to_sync(layer.new_channel)()
    monitor_channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"execution-{execution.pk}", execution_channel)
    async_to_sync(layer.group_add)("monitor", monitor_channel)

    run_execution(execution.pk)

    events = _drain(layer, execution_channel)
    kinds = [(event["type"], event["status"]) for event in events]
    assert kinds == [
        ("execution.status", "running"),
        ("symbol.started", "running"),
        ("step.started", "running"),
        ("step.finished", "completed"),
        ("symbol.finished", "completed"),
        ("execution.status", "completed"),
    ]
    step_event = events[3]
    assert step_event["execution_id"] == execution.pk and step_event["owner_id"] == alice.pk
    assert step_event["symbol"] == "AAPL" and step_event["step_id"] == "pause" and step_event["step_type"] == "wait"
    assert step_event["progress"]["current_step"] == 1 and step_event["progress"]["total_steps"] == 1
    assert [event["type"] for event in _drain(layer, monitor_channel)] == [event["type"] for event in events]
