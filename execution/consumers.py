"""Websockets for live progress: one execution's events, and the monitor of the user's executions.

Both refuse anonymous users (close 4403). ws/executions/<id>/ refuses an execution the user may
not see (close 4404, as the API's 404). ws/monitor/ forwards only the user's own executions'
events (staff: all; a user's notifications: only that user), checked against the owner_id every
event carries, the paperless-ngx way, and sends the queue metrics on connect, every
settings.MONITOR_METRICS_SECONDS and on request ({"type": "metrics"}). The events themselves
come from execution/progress.py.
"""

import asyncio
import contextlib
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from execution.models import WorkflowExecution
from execution.progress import MONITOR_GROUP, execution_group
from execution.queue_metrics import queue_metrics
from tradingweb.access import may_see_owned

logger = logging.getLogger(__name__)

CLOSE_ANONYMOUS = 4403
CLOSE_NOT_FOUND = 4404


class ProgressConsumer(AsyncJsonWebsocketConsumer):
    """Forwards progress events of the group it joined; subclasses say which group and who may see what."""

    group = ""

    async def refuse(self, code: int) -> None:
        # Accept first so the client receives the close code (a refused handshake carries none).
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    def may_see(self, event: dict) -> bool:
        user = self.scope["user"]
        return may_see_owned(user, event.get("owner_id"))

    async def forward(self, event: dict) -> None:
        if self.may_see(event):
            await self.send_json({key: value for key, value in event.items() if key != "owner_id"})

    async def forward_to_owner(self, event: dict) -> None:
        """A user's notification is theirs alone: staff see every execution, not everyone's inbox."""
        if event.get("owner_id") == self.scope["user"].pk:
            await self.send_json({key: value for key, value in event.items() if key != "owner_id"})

    # The event types of execution/progress.py, each mapped by Channels to a method of its name.
    execution_status = forward
    execution_notification = forward
    symbol_started = forward
    symbol_finished = forward
    step_started = forward
    step_finished = forward
    step_retrying = forward
    # Published through the same groups by execution/steps/agent_team.py, execution/approvals.py and
    # progress.user_notification; without a handler Channels would close the socket on them.
    agent_message = forward
    approval_requested = forward
    approval_answered = forward
    backtest_progress = forward
    notification = forward_to_owner


class ExecutionConsumer(ProgressConsumer):
    """ws/executions/<id>/"""

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            return await self.refuse(CLOSE_ANONYMOUS)
        execution_id = self.scope["url_route"]["kwargs"]["execution_id"]
        if not await self.visible(user, execution_id):
            return await self.refuse(CLOSE_NOT_FOUND)
        self.group = execution_group(execution_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

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
        self.group = MONITOR_GROUP
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
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
