"""Progress events reach the execution's websocket group and the monitor group, with the owner inside."""

import pytest

from execution import progress
from execution.models import WorkflowExecution
from execution.runner import run_execution
from tests.support.groups import GroupListener
from workflows.models import Workflow, WorkflowVersion


def _finished(event: dict) -> bool:
    return event["type"] == "execution.status" and event["status"] == "completed"


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
    page, monitor = GroupListener(f"execution-{execution.pk}"), GroupListener("monitor")

    run_execution(execution.pk)

    events, monitor_events = page.events(until=_finished), monitor.events(until=_finished)
    page.close(), monitor.close()
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
    assert step_event["duration_ms"] is not None
    assert [(event["type"], event["status"]) for event in monitor_events] == kinds


@pytest.mark.django_db(transaction=True)
def test_the_monitor_carries_what_the_monitor_draws_and_no_agent_talk(alice):
    """The monitor pages draw a run's status and progress: the rest of an event stays on the execution's page."""
    execution = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"], status="running", error="x" * 5000)
    page, monitor = GroupListener(f"execution-{execution.pk}"), GroupListener("monitor")
    agent_message = {"type": "agent.message", "execution_id": execution.pk, "status": "running",
                     "owner_id": alice.pk, "message_content": "a long debate"}  # fmt: skip

    progress.publish(execution.pk, agent_message).result(timeout=10)
    progress.execution_status(execution)

    monitor_events = monitor.events(until=lambda event: event["type"] == "execution.status")
    page_events = page.events(until=lambda event: event["type"] == "execution.status")
    page.close(), monitor.close()
    assert [event["type"] for event in page_events] == ["agent.message", "execution.status"]
    assert page_events[1]["error"] == "x" * 5000
    assert monitor_events == [
        {"type": "execution.status", "execution_id": execution.pk, "status": "running",
         "owner_id": alice.pk, "envelope": progress.FOR_VIEWERS},
    ]  # fmt: skip
