"""Every websocket route (found in tradingweb.routing) checks who connects, as the API does.

anonymous: refused everywhere; another trader: refused on the owner's execution; the owner and
staff: kept open. The consumers read the session in their own thread, so rows must be committed.
"""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from execution import progress
from tests.tradingweb.security.discovery import websocket_endpoints
from tests.tradingweb.security.world import OWNER_MARKER

ROUTES = websocket_endpoints()
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not ROUTES, reason="no websocket routes in tradingweb.routing yet"),
]


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def communicator(path: str, user=None) -> WebsocketCommunicator:
    """A browser's socket: the page's origin and, when signed in, its session cookie (made here, outside the loop)."""
    from tradingweb.asgi import application

    headers = [(b"origin", b"http://testserver")]
    if user is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_cookie(user)}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def stays_open(path: str, user=None) -> bool:
    return _stays_open(communicator(path, user))


@async_to_sync
async def _stays_open(socket: WebsocketCommunicator) -> bool:
    """True when the socket is accepted and not closed straight after (a refusal may accept, then close)."""
    connected, _ = await socket.connect(timeout=5)
    if not connected:
        return False
    try:
        if await socket.receive_nothing(timeout=0.3):
            return True
        return (await socket.receive_output(timeout=5))["type"] != "websocket.close"
    finally:
        await socket.disconnect()


def params():
    return [pytest.param(route, id=route.route) for route in ROUTES]


@pytest.mark.parametrize("route", params())
def test_anonymous_sockets_are_refused(alice_world, route):
    assert not stays_open(route.url(alice_world))


@pytest.mark.parametrize("route", params())
def test_another_trader_is_refused_on_the_owners_execution_and_kept_on_shared_routes(bob, alice_world, route):
    assert stays_open(route.url(alice_world), bob) is not route.is_owned


@pytest.mark.parametrize("route", params())
def test_the_owner_and_staff_are_kept_open(alice, staff, alice_world, route):
    assert stays_open(route.url(alice_world), alice)
    assert stays_open(route.url(alice_world), staff)


def events_seen_on_the_monitor(user, event: dict) -> list[dict]:
    return _events_seen(communicator("/ws/monitor/", user), event)


@async_to_sync
async def _events_seen(socket: WebsocketCommunicator, event: dict) -> list[dict]:
    connected, _ = await socket.connect(timeout=5)
    assert connected
    try:
        while not await socket.receive_nothing(timeout=0.3):
            await socket.receive_json_from()  # the queue metrics sent on connect
        await asyncio.wrap_future(progress.publish(event["execution_id"], event))
        seen = []
        while not await socket.receive_nothing(timeout=0.5):
            seen.append(await socket.receive_json_from())
        return [message for message in seen if message.get("type") != "queue.metrics"]
    finally:
        await socket.disconnect()


def test_the_monitor_never_forwards_another_traders_events(alice, bob, alice_world):
    event = {
        "type": "execution.status",
        "execution_id": alice_world.execution.pk,
        "status": "running",
        "owner_id": alice.pk,
        "progress": {},
        "error": OWNER_MARKER,
    }
    assert events_seen_on_the_monitor(bob, event) == []
    seen_by_owner = events_seen_on_the_monitor(alice, event)
    assert [message["execution_id"] for message in seen_by_owner] == [alice_world.execution.pk]
    assert "owner_id" not in seen_by_owner[0]
