"""Telling traders what happened: in the app, by email and by webhook.

`notify(owner, kind, title, ...)` is the one entry point: it stores a Notification, publishes it
on the monitor websocket (through execution.progress) and, per the owner's
NotificationPreference, queues an email and a webhook delivery, sent by a Celery task after the
transaction commits (`deliver_notification`): 3 attempts with backoff, each logged on its
NotificationDelivery row. Values whose key looks like a secret never leave in a payload.

The rest wires the events the spec says a trader is told of: a failed execution, a rejected
or failed order, a fill, an approval waiting, and the broker app's risk alerts, which broker
returns (it imports no other app) and `publish_alerts` sends.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from broker.alerts import check_risk, order_rejected_alert
from broker.models import Alert, Order
from broker.orders import poll_open_orders
from broker.reconciliation import ReconciliationReport, reconcile
from execution import dispatch, progress
from execution.models import Notification, NotificationDelivery, NotificationPreference
from tradingweb.outbound import UnsafeURL, post_json

logger = logging.getLogger(__name__)

SECRET_NAME = re.compile(r"secret|token|password|passwd|api_?key|authorization|credential|webhook", re.IGNORECASE)
REDACTED = "[redacted]"


class DeliveryError(Exception):
    """One attempt failed; `retry` says whether another attempt may succeed."""

    def __init__(self, message: str, *, code: int | None = None, retry: bool = True):
        super().__init__(message)
        self.code = code
        self.retry = retry


def public_data(value):
    """`value` made JSON-safe, with every value under a secret-looking key removed."""
    if isinstance(value, dict):
        return {str(key): public_data(item) for key, item in value.items() if not SECRET_NAME.search(str(key))}
    if isinstance(value, list | tuple):
        return [public_data(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# --- the entry point -----------------------------------------------------------------------


def notify(owner, kind: str, title: str, body: str = "", data: dict | None = None) -> Notification | None:
    """Tell `owner`: a Notification row, a websocket event, and email/webhook deliveries per their preferences.

    None when the owner's account no longer exists (deleted while a task was on its way): there is
    nobody to tell, so it is logged and a worker carries on instead of failing on the foreign key.
    """
    if kind not in Notification.Kind.values:
        raise ValueError(f"Unknown notification kind {kind!r}; expected one of {', '.join(Notification.Kind.values)}")
    data = public_data(data or {})
    try:
        with transaction.atomic():  # the deferred foreign key on the owner is checked when this block commits
            stored = _store(owner, kind, title, body, data)
    except IntegrityError:
        if get_user_model().objects.filter(pk=owner.pk).exists():
            raise
        stored = None
    if stored is None:
        logger.warning(
            "Not notifying user %s, who no longer exists, of %s %r (%s)", owner.pk, kind, title, json.dumps(data)
        )
        return None
    notification, channels = stored
    progress.user_notification(notification)
    if channels:
        transaction.on_commit(lambda: _queue_delivery(notification.pk))
    return notification


def _store(owner, kind: str, title: str, body: str, data: dict) -> tuple[Notification, list[str]] | None:
    """The Notification row and its pending deliveries; None when the owner is gone."""
    if not get_user_model().objects.filter(pk=owner.pk).exists():
        return None
    notification = Notification.objects.create(owner=owner, kind=kind, title=title[:200], body=body, data=data)
    preference = NotificationPreference.objects.filter(owner=owner).first()
    channels = []
    if preference is not None and preference.wants(kind):
        if preference.email_enabled:
            channels.append(NotificationDelivery.Channel.EMAIL)
        if preference.webhook_url:
            channels.append(NotificationDelivery.Channel.WEBHOOK)
    for channel in channels:
        NotificationDelivery.objects.create(notification=notification, channel=channel)
    return notification, channels


def _queue_delivery(notification_id: int) -> None:
    try:
        dispatch.send_notification_delivery(notification_id)
    except Exception:  # the queue is down: the deliveries stay pending for deliver_pending_notifications
        logger.warning("Could not queue the deliveries of notification %s", notification_id, exc_info=True)


def mark_read(notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def mark_all_read(owner) -> int:
    """Marks every unread notification of `owner` read; returns how many were unread."""
    return Notification.objects.filter(owner=owner, read_at__isnull=True).update(read_at=timezone.now())


# --- delivery -------------------------------------------------------------------------------


def deliver_notification(notification: Notification) -> list[NotificationDelivery]:
    """Send the notification's pending deliveries (what the Celery task does)."""
    pending = notification.deliveries.filter(status=NotificationDelivery.Status.PENDING)
    return [sent for delivery in pending.order_by("id") if (sent := deliver(delivery)) is not None]


def deliver_pending_notifications() -> int:
    """Send every delivery still pending, or abandoned by a dead sender (the periodic sweep). Returns the count."""
    abandoned = Q(
        status=NotificationDelivery.Status.SENDING,
        claimed_at__lt=timezone.now() - NotificationDelivery.CLAIM_TIMEOUT,
    )
    NotificationDelivery.objects.filter(abandoned).update(status=NotificationDelivery.Status.PENDING)
    pending = NotificationDelivery.objects.filter(status=NotificationDelivery.Status.PENDING).select_related(
        "notification__owner"
    )
    delivered = [sent for delivery in pending.order_by("id") if (sent := deliver(delivery)) is not None]
    return len(delivered)


def claim(delivery: NotificationDelivery) -> bool:
    """Take a pending delivery for this sender only, so the sweep and the task never both send it."""
    now = timezone.now()
    taken = NotificationDelivery.objects.filter(pk=delivery.pk, status=NotificationDelivery.Status.PENDING).update(
        status=NotificationDelivery.Status.SENDING, claimed_at=now
    )
    if taken:
        delivery.status, delivery.claimed_at = NotificationDelivery.Status.SENDING, now
    return bool(taken)


def deliver(delivery: NotificationDelivery) -> NotificationDelivery | None:
    """Up to NOTIFICATION_ATTEMPTS attempts, waiting base, 2 x base ... seconds between them; each one logged.

    None when another sender already claimed the delivery.
    """
    if not claim(delivery):
        return None
    send = _send_email if delivery.channel == NotificationDelivery.Channel.EMAIL else _post_webhook
    notification = delivery.notification
    attempts = max(settings.NOTIFICATION_ATTEMPTS, 1)
    for attempt in range(1, attempts + 1):
        delivery.attempts += 1
        try:
            delivery.response_code = send(notification)
        except DeliveryError as error:
            delivery.error = str(error)
            delivery.response_code = error.code
            logger.warning(
                "Notification %s by %s, attempt %d of %d failed: %s",
                notification.pk,
                delivery.channel,
                attempt,
                attempts,
                error,
            )
            if error.retry and attempt < attempts:
                delivery.save(update_fields=["attempts", "error", "response_code"])
                time.sleep(settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
                continue
            delivery.status = NotificationDelivery.Status.FAILED
            break
        delivery.status = NotificationDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.error = ""
        break
    delivery.save(update_fields=["attempts", "error", "response_code", "status", "delivered_at"])
    return delivery


def webhook_payload(notification: Notification) -> dict:
    """What a webhook receives: Slack reads `text`; Telegram-style bots read `text` too (chat id in the URL)."""
    text = f"{notification.title}\n{notification.body}".strip()
    return {"text": text, "title": notification.title, "kind": notification.kind, "data": notification.data}


def _email_text(notification: Notification) -> str:
    details = "\n".join(f"{key}: {value}" for key, value in notification.data.items())
    return f"{notification.body}\n\n{details}".strip() + "\n"


def _send_email(notification: Notification) -> None:
    address = notification.owner.email
    if not address:
        raise DeliveryError(f"User {notification.owner} has no email address", retry=False)
    try:
        send_mail(
            f"[tradingweb] {notification.title}",
            _email_text(notification),
            settings.DEFAULT_FROM_EMAIL,
            [address],
        )
    except OSError as error:  # SMTP errors are OSErrors
        raise DeliveryError(f"Sending mail to {address} failed: {error}") from error


def _post_webhook(notification: Notification) -> int:
    preference = NotificationPreference.objects.get(owner=notification.owner)
    url = preference.webhook_url
    if not url:
        raise DeliveryError("The webhook URL was removed from the preferences", retry=False)
    try:
        status = post_json(
            url,
            json.dumps(webhook_payload(notification)).encode(),
            {"Content-Type": "application/json", "User-Agent": "tradingweb-notifications"},
            settings.NOTIFICATION_WEBHOOK_TIMEOUT,
        )
    except UnsafeURL as error:
        raise DeliveryError(f"The webhook URL was refused: {error}", retry=False) from error
    except OSError as error:
        raise DeliveryError(f"The webhook could not be reached: {error}") from error
    if status >= 300:
        # Server errors and rate limits may pass; other refusals will not (redirects are not followed).
        retry = status >= 500 or status == 429
        raise DeliveryError(f"The webhook answered HTTP {status}", code=status, retry=retry)
    return status


# --- the events a trader is told of ---------------------------------------------------------


def execution_failed(execution) -> Notification | None:
    """Called at the end of a failed run; a database that is gone (often why it failed) only gets logged."""
    name = execution.workflow.name if execution.workflow_id else f"Strategy {execution.strategy_id}"
    try:
        return notify(
            execution.owner,
            Notification.Kind.EXECUTION_FAILED,
            f"Execution {execution.pk} of {name} failed",
            execution.error,
            {"execution_id": execution.pk, "workflow_id": execution.workflow_id, "strategy_id": execution.strategy_id},
        )
    except DatabaseError:
        logger.exception("Could not notify the owner of execution %s that it failed", execution.pk)
        return None


def _order_data(order: Order) -> dict:
    return {
        "order_id": order.pk,
        "execution_id": order.execution_id,
        "symbol": order.instrument.symbol,
        "side": order.side,
        "quantity": order.quantity,
        "status": order.status,
        "filled_quantity": order.filled_quantity,
        "avg_fill_price": order.avg_fill_price,
    }


def order_failed(order: Order, reason: str) -> Notification | None:
    """An order that could not be placed (refused by a guard, or the broker's answer was lost)."""
    return notify(
        order.owner,
        Notification.Kind.ORDER_FAILED,
        f"{order.side} {order.quantity} {order.instrument.symbol} was not placed",
        reason,
        _order_data(order),
    )


def order_update(order: Order, *, previous_status: str = "", previous_filled=None) -> Notification | None:
    """Tell the owner of a rejection or a new fill of `order` (compared with what it was before)."""
    if order.status == Order.Status.REJECTED and previous_status != Order.Status.REJECTED:
        alert = order_rejected_alert(order)
        return notify(
            order.owner,
            Notification.Kind.ORDER_REJECTED,
            f"{order.side} {order.quantity} {order.instrument.symbol} was rejected",
            order.status_message,
            {**_order_data(order), "alert_id": alert.pk if alert else None},
        )
    if order.filled_quantity and order.filled_quantity != (previous_filled or 0):
        done = "filled" if order.status == Order.Status.FILLED else "partially filled"
        return notify(
            order.owner,
            Notification.Kind.ORDER_FILLED,
            f"{order.side} {order.instrument.symbol} {done}: {order.filled_quantity} of {order.quantity} "
            f"at {order.avg_fill_price}",
            "",
            _order_data(order),
        )
    return None


def approval_requested(execution, decision, deadline=None) -> Notification | None:
    """A decision waits for the owner's approval (called by the approvals flow when it parks a run)."""
    return notify(
        execution.owner,
        Notification.Kind.APPROVAL_REQUESTED,
        f"{decision.type.upper()} {decision.instrument.symbol} waits for your approval",
        f"Execution {execution.pk} is parked until you approve, reject or modify the decision"
        + (f" (until {deadline:%Y-%m-%d %H:%M} UTC, then HOLD)." if deadline else "."),
        {"execution_id": execution.pk, "decision_id": decision.pk, "deadline": deadline},
    )


def publish_alerts(alerts: Iterable[Alert | None]) -> list[Notification]:
    """Each broker alert as a notification of its owner (alerts about the shared account go to staff)."""
    notifications = []
    staff = None
    for alert in alerts:
        if alert is None:
            continue
        if alert.owner_id is not None:
            recipients = [alert.owner]
        else:
            staff = staff if staff is not None else list(get_user_model().objects.filter(is_staff=True, is_active=True))
            recipients = staff
        data = {**alert.data, "alert_id": alert.pk, "severity": alert.severity, "strategy_id": alert.strategy_id}
        title = f"{alert.get_kind_display()} alert"
        sent = (notify(user, alert.kind, title, alert.message, data) for user in recipients)
        notifications += [notification for notification in sent if notification is not None]
    return notifications


# --- periodic and on-demand checks (thin Celery tasks call these) ----------------------------


def check_risk_and_notify(owner=None) -> int:
    """Exposure, loss streak and stop breach checks for `owner` (None: every trader); returns alerts raised."""
    alerts = check_risk(owner)
    publish_alerts(alerts)
    return len(alerts)


def reconcile_and_notify(owner=None) -> ReconciliationReport:
    """Reconcile with the broker and tell owners (and staff) about each new discrepancy and settled order."""
    report = reconcile(owner)
    publish_alerts(report.alerts)
    return report


def poll_orders_and_notify() -> dict:
    """Refresh every open order from the broker, tell owners of rejections and fills, then check their risk."""
    before = {
        row["pk"]: (row["status"], row["filled_quantity"])
        for row in Order.objects.filter(status__in=Order.OPEN_STATUSES).values("pk", "status", "filled_quantity")
    }
    summary = poll_open_orders()
    changed = Order.objects.filter(pk__in=before).select_related("instrument", "owner")
    owners = {}
    for order in changed:
        previous_status, previous_filled = before[order.pk]
        if (order.status, order.filled_quantity) == (previous_status, previous_filled):
            continue
        order_update(order, previous_status=previous_status, previous_filled=previous_filled)
        if order.filled_quantity != previous_filled:
            owners[order.owner_id] = order.owner
    for owner in owners.values():  # a fill may close a losing trade or take exposure past 75 %
        publish_alerts(check_risk(owner))
    return {**summary, "owners_checked": len(owners)}
