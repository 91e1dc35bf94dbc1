"""The one module that publishes execution progress events.

Engine code calls these functions and never touches the channel layer. Every
event goes to the execution's own group (`execution-<id>`, the detail page);
the part of it the monitor pages draw goes to `monitor` (the queue and status
overview). Each event is turned into its websocket text here, once, and travels
through the channel layer in an envelope (`Envelope`) that the consumers in
execution/consumers.py pass on as it is to every client allowed to see it.
The owner's id travels in the envelope, so a consumer checks access without a
query. Publishing is best effort: a failure is logged and the run goes on.
"""

import asyncio
import json
import logging
import os
import threading
from concurrent.futures import Future
from typing import NotRequired, TypedDict

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

MONITOR_GROUP = "monitor"


class Progress(TypedDict):
    current_step: int  # steps finished so far, over all symbols
    total_steps: int  # steps × symbols
    current_symbol: str
    completed_symbols: int
    current_step_id: NotRequired[str]


class ExecutionStatusEvent(TypedDict):
    type: str  # "execution.status"
    execution_id: int
    status: str
    owner_id: int
    progress: Progress | dict
    error: str


class StepEvent(TypedDict):
    type: str  # "step.started" | "step.finished" | "step.retrying"
    execution_id: int
    status: str  # the step run's status
    owner_id: int
    symbol: str
    step_id: str
    step_type: str
    index: int
    attempt: int
    duration_ms: int | None
    error: str
    progress: Progress | dict
    retry_in: NotRequired[float]  # step.retrying: seconds until the next attempt


class SymbolEvent(TypedDict):
    type: str  # "symbol.started" | "symbol.finished"
    execution_id: int
    status: str  # "running" | "completed" | "failed"
    owner_id: int
    symbol: str
    error: str
    progress: Progress | dict


class NotificationEvent(TypedDict):
    type: str  # "execution.notification"
    execution_id: int
    status: str  # the execution's status when it was sent
    owner_id: int
    level: str  # "info" | "warning" | "error"
    message: str
    symbol: NotRequired[str]
    step_id: NotRequired[str]


def execution_group(execution_id: int) -> str:
    return f"execution-{execution_id}"


class Envelope(TypedDict):
    """What the channel layer carries for one event: its websocket text and what a consumer decides on."""

    type: str  # FOR_VIEWERS or FOR_OWNER: the consumer method that forwards it
    owner_id: int
    text: str  # the event as JSON, without its owner_id: sent to the browser as it is
    supersedes: str  # events with the same non-empty key replace each other in a client's window; "" never


FOR_VIEWERS = "progress.event"  # the owner and staff
FOR_OWNER = "progress.owner_only"  # a user's notification: staff see every execution, not everyone's inbox

# What the monitor pages (frontend/pages/executions-monitor.js, tasks.js) draw of each event they use: a
# run's status and progress. Other events (agent messages, approvals, toasts) are drawn on the
# execution's own page only.
_MONITOR_FIELDS = {
    "execution.status": ("type", "execution_id", "status"),
    **dict.fromkeys(("symbol.started", "symbol.finished"), ("type", "execution_id", "status", "symbol", "progress")),
    **dict.fromkeys(
        ("step.started", "step.finished", "step.retrying"),
        ("type", "execution_id", "status", "symbol", "step_id", "step_type", "progress"),
    ),
}


def _supersedes(event: dict) -> str:
    """A step's latest event says all its earlier ones said (state, attempt, duration, progress)."""
    if event.get("type", "").startswith("step."):
        return f"{event['execution_id']}:{event['symbol']}:{event['step_id']}"
    return ""


def _envelope(kind: str, event: dict, fields=None) -> Envelope:
    wire = {key: value for key, value in event.items() if key != "owner_id" and (fields is None or key in fields)}
    return {"type": kind, "owner_id": event["owner_id"], "text": json.dumps(wire), "supersedes": _supersedes(event)}


def envelopes(execution_id: int, event: dict) -> list[tuple[str, Envelope]]:
    """(group, envelope) pairs for one execution event: all of it for its page, the drawn part for the monitor."""
    sends = [(execution_group(execution_id), _envelope(FOR_VIEWERS, event))]
    monitor_fields = _MONITOR_FIELDS.get(event.get("type"))
    if monitor_fields is not None:
        sends.append((MONITOR_GROUP, _envelope(FOR_VIEWERS, event, monitor_fields)))
    return sends


class _Publisher:
    """One event loop in a daemon thread per process, so the channel layer keeps its connection.

    Sending through async_to_sync would start a loop and a Redis connection per event (about
    15 ms); here an event costs a hand-off to the loop, and events keep their order. The loop
    is started lazily and again after a fork (a prefork worker child has no threads).
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pid = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            if self.loop is None or self.pid != os.getpid():
                self.loop = asyncio.new_event_loop()
                self.pid = os.getpid()
                threading.Thread(target=self.loop.run_forever, name="progress-publisher", daemon=True).start()
            return self.loop

    def submit(self, coroutine) -> Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())


_publisher = _Publisher()


async def _send(sends: list[tuple[str, Envelope]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group, envelope in sends:
        await layer.group_send(group, envelope)


def _log_failure(future: Future, event: dict) -> None:
    error = future.exception()
    if error is not None:
        logger.warning("Could not publish %s for execution %s: %s", event.get("type"), event.get("execution_id"), error)


def _submit(sends: list[tuple[str, Envelope]], event: dict, what: str) -> Future | None:
    """Hand the sends to the publisher's loop without waiting; never raise. `what` names the event in a log line."""
    try:
        future = _publisher.submit(_send(sends))
    except Exception:
        logger.warning("Could not publish %s", what, exc_info=True)
        return None
    future.add_done_callback(lambda done: _log_failure(done, event))
    return future


def publish(execution_id: int, event: dict) -> Future | None:
    """Send one event to the execution's group (and the monitor group, see `envelopes`) without waiting; never raise.

    Returns the future of the send (tests may wait on it).
    """
    return _submit(envelopes(execution_id, event), event, f"{event.get('type')} for execution {execution_id}")


def execution_status(execution) -> None:
    event: ExecutionStatusEvent = {
        "type": "execution.status",
        "execution_id": execution.pk,
        "status": execution.status,
        "owner_id": execution.owner_id,
        "progress": execution.progress or {},
        "error": execution.error,
    }
    publish(execution.pk, event)


def _step_event(event_type: str, execution, step_run, progress: dict) -> StepEvent:
    return {
        "type": event_type,
        "execution_id": execution.pk,
        "status": step_run.status,
        "owner_id": execution.owner_id,
        "symbol": step_run.symbol,
        "step_id": step_run.step_id,
        "step_type": step_run.step_type,
        "index": step_run.index,
        "attempt": step_run.attempt,
        "duration_ms": step_run.duration_ms,
        "error": step_run.error,
        "progress": progress,
    }


def step_started(execution, step_run, progress: dict) -> None:
    publish(execution.pk, _step_event("step.started", execution, step_run, progress))


def step_finished(execution, step_run, progress: dict) -> None:
    publish(execution.pk, _step_event("step.finished", execution, step_run, progress))


def step_retrying(execution, step_run, progress: dict, retry_in: float) -> None:
    event = _step_event("step.retrying", execution, step_run, progress)
    event["retry_in"] = retry_in
    publish(execution.pk, event)


def notify_owner(execution, level: str, message: str, *, symbol: str = "", step_id: str = "") -> None:
    """Tell the execution's owner (its page and their monitor) something went wrong or needs them."""
    event: NotificationEvent = {
        "type": "execution.notification",
        "execution_id": execution.pk,
        "status": execution.status,
        "owner_id": execution.owner_id,
        "level": level,
        "message": message,
    }
    if symbol:
        event["symbol"] = symbol
    if step_id:
        event["step_id"] = step_id
    publish(execution.pk, event)


def symbol_event(event_type: str, execution, symbol: str, status: str, progress: dict, error: str = "") -> None:
    event: SymbolEvent = {
        "type": event_type,
        "execution_id": execution.pk,
        "status": status,
        "owner_id": execution.owner_id,
        "symbol": symbol,
        "error": error,
        "progress": progress,
    }
    publish(execution.pk, event)


def symbol_started(execution, symbol: str, progress: dict) -> None:
    symbol_event("symbol.started", execution, symbol, "running", progress)


def symbol_finished(execution, symbol: str, status: str, progress: dict, error: str = "") -> None:
    symbol_event("symbol.finished", execution, symbol, status, progress, error)


class UserNotificationEvent(TypedDict):
    type: str  # "notification"
    execution_id: int | None  # the execution it is about, if any
    status: str  # "unread"
    owner_id: int
    notification_id: int
    kind: str  # execution.models.Notification.Kind
    title: str
    body: str
    data: dict
    created_at: str


def user_notification(notification) -> Future | None:
    """A Notification for its owner, on the monitor group (every page of the owner's listens there)."""
    event: UserNotificationEvent = {
        "type": "notification",
        "execution_id": notification.data.get("execution_id"),
        "status": "read" if notification.read_at else "unread",
        "owner_id": notification.owner_id,
        "notification_id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "data": notification.data,
        "created_at": notification.created_at.isoformat(),
    }
    return _submit([(MONITOR_GROUP, _envelope(FOR_OWNER, event))], event, f"notification {notification.pk}")


def backtest_progress(backtest) -> Future | None:
    """A backtest's status and progress (points done of all), to the monitor group; its owner's id travels along."""
    event = {
        "type": "backtest.progress",
        "backtest_id": backtest.pk,
        "execution_id": None,
        "status": backtest.status,
        "owner_id": backtest.owner_id,
        "progress": dict(backtest.progress or {}),
        "error": backtest.error,
    }
    return _submit([(MONITOR_GROUP, _envelope(FOR_VIEWERS, event))], event, f"the progress of backtest {backtest.pk}")
