"""ws/monitor/ hands a user's notification to that user only; staff see every execution, not every inbox."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from execution import progress
from execution.models import WorkflowExecution
from execution.notifications import notify
from tradingweb.asgi import application


def _headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return [(b"origin", b"http://testserver"), (b"cookie", cookie.encode())]


def events_on_the_monitor(users: dict, publish) -> dict[str, list[dict]]:
    """What each user's ws/monitor/ socket receives (queue metrics aside) while `publish()` runs."""
    headers = {name: _headers(user) for name, user in users.items()}

    async def listen():
        sockets = {name: WebsocketCommunicator(application, "/ws/monitor/", headers=h) for name, h in headers.items()}
        for socket in sockets.values():
            connected, _ = await socket.connect(timeout=5)
            assert connected
        try:
            await sync_to_async(publish)()
            seen = {name: [] for name in sockets}
            for name, socket in sockets.items():
                while not await socket.receive_nothing(timeout=0.5):
                    seen[name].append(await socket.receive_json_from())
            return {name: [e for e in events if e["type"] != "queue.metrics"] for name, events in seen.items()}
        finally:
            for socket in sockets.values():
                await socket.disconnect()

    return async_to_sync(listen)()


@pytest.mark.django_db(transaction=True)  # the consumers read the session in their own threads
def test_a_notification_reaches_its_owner_alone_while_staff_still_follow_the_execution(alice, bob, staff):
    execution = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"], status="running")

    def publish():
        notify(alice, "order_filled", "BUY AAPL filled", "10 at 180.5", {"execution_id": execution.pk})
        progress.execution_status(execution)

    seen = events_on_the_monitor({"alice": alice, "bob": bob, "staff": staff}, publish)

    assert [(e["type"], e.get("title")) for e in seen["alice"]] == [
        ("notification", "BUY AAPL filled"),
        ("execution.status", None),
    ]
    assert "owner_id" not in seen["alice"][0]
    assert [e["type"] for e in seen["staff"]] == ["execution.status"]
    assert seen["bob"] == []
