"""Websockets for live progress: one execution's events, and the monitor of the user's executions.

Both refuse anonymous users (close 4403). ws/executions/<id>/ refuses an execution the user may
not see (close 4404, as the API's 404). ws/monitor/ forwards only the user's own executions'
events (staff: all; a user's notifications: only that user), checked against the owner_id every
event's envelope carries, the paperless-ngx way, and sends the queue metrics on connect, every
settings.MONITOR_METRICS_SECONDS and on request ({"type": "metrics"}). The events themselves
come from execution/progress.py, already in their websocket text; each client's events go
through an `Outbox`.
"""

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from execution.models import WorkflowExecution
from execution.progress import MONITOR_GROUP, Envelope, execution_group
from execution.queue_metrics import queue_metrics
from tradingweb.access import may_see_owned

logger = logging.getLogger(__name__)

CLOSE_ANONYMOUS = 4403
CLOSE_NOT_FOUND = 4404


class Outbox:
    """One client's events, sent at most once per `window` seconds so that a fast run cannot flood a browser.

    An event goes out at once when nothing went out in the last window; otherwise it waits for the
    window's end with the others that arrive meanwhile. A waiting event that a later one supersedes
    (the same step's, see progress.Envelope) is dropped, and the later one takes its turn at its own
    place; every other event is sent, in the order it came.
    """

    def __init__(self, send: Callable[[str], Awaitable[None]], window: float):
        self.send = send
        self.window = window
        self.waiting: dict[object, str] = {}
        self.numbers = itertools.count()
        self.windows: asyncio.Task | None = None

    async def put(self, text: str, supersedes: str = "") -> None:
        if self.windows is None:
            await self.send(text)
            self.windows = asyncio.create_task(self._run_windows())
            return
        key = ("step", supersedes) if supersedes else ("event", next(self.numbers))
        self.waiting.pop(key, None)
        self.waiting[key] = text

    async def _run_windows(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.window)
                if not self.waiting:
                    return
                due, self.waiting = self.waiting, {}
                for text in due.values():
                    await self.send(text)
        finally:  # also when a send fails (the socket is gone): the next event starts afresh
            self.windows = None

    async def close(self) -> None:
        if self.windows is not None:
            self.windows.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.windows


class ProgressConsumer(AsyncJsonWebsocketConsumer):
    """Forwards progress events of the group it joined; subclasses say which group and who may see what."""

    group = ""
    outbox: Outbox | None = None

    async def refuse(self, code: int) -> None:
        # Accept first so the client receives the close code (a refused handshake carries none).
        await self.accept()
        await self.close(code=code)

    async def join(self, group: str) -> None:
        self.group = group
        self.outbox = Outbox(self.send_text, settings.PROGRESS_COALESCE_SECONDS)
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def disconnect(self, code):
        if self.outbox is not None:
            await self.outbox.close()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    # The envelope types of execution/progress.py, each mapped by Channels to a method of its name.
    async def progress_event(self, envelope: Envelope) -> None:
        if may_see_owned(self.scope["user"], envelope["owner_id"]):
            await self.outbox.put(envelope["text"], envelope["supersedes"])

    async def progress_owner_only(self, envelope: Envelope) -> None:
        if envelope["owner_id"] == self.scope["user"].pk:
            await self.outbox.put(envelope["text"], envelope["supersedes"])


class ExecutionConsumer(ProgressConsumer):
    """ws/executions/<id>/"""

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            return await self.refuse(CLOSE_ANONYMOUS)
        execution_id = self.scope["url_route"]["kwargs"]["execution_id"]
        if not await self.visible(user, execution_id):
            return await self.refuse(CLOSE_NOT_FOUND)
        await self.join(execution_group(execution_id))

    @database_sync_to_async
    def visible(self, user, execution_id: int) -> bool:
        return WorkflowExecution.objects.filter(pk=execution_id).visible_to(user).exists()


class MonitorConsumer(ProgressConsumer):
    """ws/monitor/"""

    metrics_task: asyncio.Task | None = None

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            return await self.refuse(CLOSE_ANONYMOUS)
        await self.join(MONITOR_GROUP)
        self.metrics_task = asyncio.create_task(self.push_metrics())

    async def disconnect(self, code):
        if self.metrics_task is not None:
            self.metrics_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.metrics_task
        await super().disconnect(code)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "metrics":
            await self.send_metrics()

    async def push_metrics(self) -> None:
        while True:
            try:
                await self.send_metrics()
            except Exception:  # the broker or database is briefly away: try again next time
                logger.warning("Could not send queue metrics to the monitor", exc_info=True)
            await asyncio.sleep(settings.MONITOR_METRICS_SECONDS)

    async def send_metrics(self) -> None:
        metrics = await database_sync_to_async(queue_metrics)(self.scope["user"])
        await self.send_json({"type": "queue.metrics", **metrics})
