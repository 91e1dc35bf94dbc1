"""A fast run's events reach each browser coalesced: a step's latest event wins, every status change arrives in order.

Through the real ASGI application and channel layer; the events are published as the engine does.
"""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from execution import progress
from execution.consumers import Outbox
from execution.models import StepRun, WorkflowExecution
from tradingweb.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)  # the consumers read the session in their own threads


def _headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return [(b"origin", b"http://testserver"), (b"cookie", cookie.encode())]


def _step(step_id: str, status: str, duration_ms=None) -> StepRun:
    return StepRun(symbol="AAPL", index=0, step_id=step_id, step_type="wait", status=status, attempt=1,
                   duration_ms=duration_ms)  # fmt: skip


def _publish_a_short_run(execution: WorkflowExecution) -> None:
    """Two steps of one symbol, then the end: what the engine publishes for a run that takes a few milliseconds."""
    done = 0
    for step_id in ("fetch", "decide"):
        progress.step_started(execution, _step(step_id, "running"), {"current_step": done, "total_steps": 2})
        done += 1
        progress.step_finished(execution, _step(step_id, "completed", 3), {"current_step": done, "total_steps": 2})
    progress.symbol_finished(execution, "AAPL", "completed", {"current_step": 2, "total_steps": 2})
    execution.status = WorkflowExecution.Status.COMPLETED
    progress.execution_status(execution)


async def _next_event(socket: WebsocketCommunicator) -> dict:
    while (message := await socket.receive_json_from(timeout=10))["type"] == "queue.metrics":
        pass
    return message


async def _until_finished(socket: WebsocketCommunicator) -> list[dict]:
    events = [await _next_event(socket)]
    while events[-1]["type"] != "execution.status" or events[-1]["status"] == "running":
        events.append(await _next_event(socket))
    return events


def _follow(path: str, users: dict, execution: WorkflowExecution) -> dict[str, list[dict]]:
    """What each user's socket on `path` receives while a short run is published after its first status event."""
    headers = {name: _headers(user) for name, user in users.items()}

    async def follow():
        sockets = {name: WebsocketCommunicator(application, path, headers=h) for name, h in headers.items()}
        for socket in sockets.values():
            connected, _ = await socket.connect(timeout=5)
            assert connected
        try:
            progress.execution_status(execution)
            for name, socket in sockets.items():
                if name != "stranger":
                    first = await _next_event(socket)
                    assert (first["type"], first["status"]) == ("execution.status", "running")
            # Each socket has just sent an event, so its window is open: the whole run waits in it.
            _publish_a_short_run(execution)
            seen = {}
            for name, socket in sockets.items():
                seen[name] = [] if name == "stranger" else await _until_finished(socket)
                while not await socket.receive_nothing(timeout=0.5):
                    message = await socket.receive_json_from()
                    if message["type"] != "queue.metrics":
                        seen[name].append(message)
            return seen
        finally:
            for socket in sockets.values():
                await socket.disconnect()

    return async_to_sync(follow)()


def _running(owner) -> WorkflowExecution:
    return WorkflowExecution.objects.create(owner=owner, symbols=["AAPL"], status="running", progress={})


def test_a_steps_latest_event_replaces_the_earlier_ones_and_every_status_change_arrives_in_order(alice, settings):
    settings.PROGRESS_COALESCE_SECONDS = 2  # wide enough that the whole run lands in one window
    execution = _running(alice)

    [events] = _follow(f"/ws/executions/{execution.pk}/", {"alice": alice}, execution).values()

    assert [(event["type"], event.get("step_id"), event["status"]) for event in events] == [
        ("step.finished", "fetch", "completed"),
        ("step.finished", "decide", "completed"),
        ("symbol.finished", None, "completed"),
        ("execution.status", None, "completed"),
    ]
    assert events[1]["progress"] == {"current_step": 2, "total_steps": 2}
    assert events[1]["duration_ms"] == 3 and "owner_id" not in events[1]


def test_at_the_default_window_the_end_of_a_run_always_arrives_after_each_steps_last_event(alice):
    execution = _running(alice)

    [events] = _follow(f"/ws/executions/{execution.pk}/", {"alice": alice}, execution).values()

    kinds = [(event["type"], event.get("step_id"), event["status"]) for event in events]
    assert kinds[-3:] == [
        ("step.finished", "decide", "completed"),
        ("symbol.finished", None, "completed"),
        ("execution.status", None, "completed"),
    ]
    assert ("step.finished", "fetch", "completed") in kinds
    assert events[-3]["progress"]["current_step"] == 2


def test_the_monitor_coalesces_only_the_owners_and_staffs_view_of_the_run(alice, bob, staff, settings):
    settings.PROGRESS_COALESCE_SECONDS = 2
    execution = _running(alice)

    seen = _follow("/ws/monitor/", {"alice": alice, "staff": staff, "stranger": bob}, execution)

    expected = [
        {"type": "step.finished", "execution_id": execution.pk, "status": "completed", "symbol": "AAPL",
         "step_id": "fetch", "step_type": "wait", "progress": {"current_step": 1, "total_steps": 2}},
        {"type": "step.finished", "execution_id": execution.pk, "status": "completed", "symbol": "AAPL",
         "step_id": "decide", "step_type": "wait", "progress": {"current_step": 2, "total_steps": 2}},
        {"type": "symbol.finished", "execution_id": execution.pk, "status": "completed", "symbol": "AAPL",
         "progress": {"current_step": 2, "total_steps": 2}},
        {"type": "execution.status", "execution_id": execution.pk, "status": "completed"},
    ]  # fmt: skip
    assert seen["alice"] == expected
    assert seen["staff"] == expected
    assert seen["stranger"] == []


def test_an_event_that_replaces_a_waiting_one_keeps_its_own_place_after_a_status_change():
    sent = []

    async def send(text):
        sent.append(text)

    async def scenario():
        outbox = Outbox(send, window=0.2)
        await outbox.put("first")
        await outbox.put("step A started", supersedes="A")
        await outbox.put("awaiting approval")
        await outbox.put("step A finished", supersedes="A")
        while outbox.windows is not None:
            await asyncio.sleep(0.05)

    asyncio.run(scenario())

    assert sent == ["first", "awaiting approval", "step A finished"]
