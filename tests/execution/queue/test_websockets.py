"""Live progress over websockets: the owner sees a worker's step events in order; others are refused."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from execution import progress
from execution.services import execution_enqueue
from tests.workers import waiting_execution
from tradingweb.asgi import application

pytestmark = pytest.mark.processes


def _headers(user=None) -> list[tuple[bytes, bytes]]:
    headers = [(b"origin", b"http://testserver")]
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


async def _close_code(path: str, headers) -> int:
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    message = await communicator.receive_output(timeout=5)
    await communicator.wait()
    assert message["type"] == "websocket.close"
    return message["code"]


async def _receive_until_finished(communicator) -> list[dict]:
    events = []
    while not events or events[-1]["type"] != "execution.status" or events[-1]["status"] == "running":
        events.append(await communicator.receive_json_from(timeout=30))
    return events


@pytest.mark.django_db(transaction=True)
def test_the_owner_receives_the_step_events_of_a_running_execution_in_order(alice, worker):
    execution = waiting_execution(alice, 0.1, steps=2)
    headers = _headers(alice)

    async def follow():
        communicator = WebsocketCommunicator(application, f"/ws/executions/{execution.pk}/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        await asyncio.get_running_loop().run_in_executor(None, execution_enqueue, execution)
        events = await _receive_until_finished(communicator)
        await communicator.disconnect()
        return events

    events = async_to_sync(follow)()

    assert [(event["type"], event.get("step_id"), event["status"]) for event in events] == [
        ("execution.status", None, "running"),
        ("symbol.started", None, "running"),
        ("step.started", "wait0", "running"),
        ("step.finished", "wait0", "completed"),
        ("step.started", "wait1", "running"),
        ("step.finished", "wait1", "completed"),
        ("symbol.finished", None, "completed"),
        ("execution.status", None, "completed"),
    ]
    assert all(event["execution_id"] == execution.pk for event in events)
    assert events[-2]["progress"]["completed_symbols"] == 1


@pytest.mark.django_db(transaction=True)
def test_anonymous_users_and_other_traders_are_refused_and_staff_may_watch(alice, bob, staff):
    execution = waiting_execution(alice, 0)
    path = f"/ws/executions/{execution.pk}/"
    staff_headers = _headers(staff)

    assert async_to_sync(_close_code)(path, _headers()) == 4403
    assert async_to_sync(_close_code)("/ws/monitor/", _headers()) == 4403
    assert async_to_sync(_close_code)(path, _headers(bob)) == 4404
    assert async_to_sync(_close_code)("/ws/executions/999999/", _headers(alice)) == 4404

    async def staff_watches():
        communicator = WebsocketCommunicator(application, path, headers=staff_headers)
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(staff_watches)()


@pytest.mark.django_db(transaction=True)
def test_the_monitor_shows_queue_metrics_and_only_the_user_s_own_executions(alice, bob):
    mine = waiting_execution(alice, 0)
    theirs = waiting_execution(bob, 0)
    headers = _headers(alice)

    async def watch():
        communicator = WebsocketCommunicator(application, "/ws/monitor/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        metrics = await communicator.receive_json_from(timeout=10)
        progress.execution_status(theirs)
        progress.execution_status(mine)
        event = await communicator.receive_json_from(timeout=10)
        nothing_else = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return metrics, event, nothing_else

    metrics, event, nothing_else = async_to_sync(watch)()

    assert metrics["type"] == "queue.metrics" and set(metrics["tasks_queued"]) == {"high", "normal", "low"}
    assert event["type"] == "execution.status" and event["execution_id"] == mine.pk and "owner_id" not in event
    assert nothing_else
