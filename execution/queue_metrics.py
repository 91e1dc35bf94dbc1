"""Queue figures for the task API and the monitor: queue lengths, running and finished counts, workers.

Queue lengths come from the broker itself. On Redis, kombu keeps each queue as a list under
the installation's key prefix (`<REDIS_KEY_PREFIX><queue>`) plus one list per message priority
step (`<queue>\\x06\\x161` … `…9`: the channel's `sep` and `priority_steps`, one per rank of an
owner's waiting runs, see execution.queue_order); the channel's size of a queue is the sum of those
lists' lengths, and the task ids waiting in it are read from those lists too (for the recovery
sweep, execution.leases). (A passive queue_declare cannot be used:
it answers "no such queue" for a queue only a producer has seen.)
"""

import datetime
import json
import logging

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.utils import timezone

from execution.models import WorkflowExecution

logger = logging.getLogger(__name__)
Status = WorkflowExecution.Status
WORKER_COUNT_CACHE_SECONDS = 5


def queued_counts() -> dict[str, int]:
    """Messages waiting in each priority queue (reserved-but-unacknowledged ones are not counted)."""
    with current_app.connection_for_read() as connection:
        channel = connection.default_channel
        # kombu's own count (LLEN of the queue's priority lists on Redis); virtual transports all have it.
        return {queue: channel._size(queue) for queue in settings.CELERY_TASK_QUEUES_BY_PRIORITY}


def waiting_task_ids() -> set[str] | None:
    """Ids of the tasks whose messages wait in the Celery queues; None when the broker cannot tell."""
    with current_app.connection_for_read() as connection:
        channel = connection.default_channel
        if connection.transport.driver_name != "redis":
            return None
        keys = [
            channel.global_keyprefix + channel._q_for_pri(queue, priority)
            for queue in settings.CELERY_TASK_QUEUES_BY_PRIORITY
            for priority in channel.priority_steps
        ]
        with channel.conn_or_acquire() as client:
            pipe = client.pipeline()
            for key in dict.fromkeys(keys):
                pipe.lrange(key, 0, -1)
            lists = pipe.execute()
    ids = set()
    for payloads in lists:
        for payload in payloads:
            try:
                ids.add(json.loads(payload)["headers"]["id"])
            except (ValueError, KeyError, TypeError):
                logger.warning("A message in the queue has no task id: %.200r", payload)
    return ids


def worker_count() -> int:
    """Workers answering a ping within settings.WORKER_PING_TIMEOUT (cached a few seconds)."""
    count = cache.get("queue:worker-count")
    if count is None:
        replies = current_app.control.ping(timeout=settings.WORKER_PING_TIMEOUT) or []
        count = len(replies)
        cache.set("queue:worker-count", count, WORKER_COUNT_CACHE_SECONDS)
    return count


def execution_counts(executions, now: datetime.datetime | None = None) -> dict:
    """Running and today's (UTC) finished counts and mean duration over `executions` (a queryset)."""
    now = now or timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = Q(completed_at__gte=midnight)
    figures = executions.aggregate(
        active=Count("pk", filter=Q(status__in=(Status.RUNNING, Status.AWAITING_APPROVAL))),
        completed=Count("pk", filter=today & Q(status=Status.COMPLETED)),
        failed=Count("pk", filter=today & Q(status=Status.FAILED)),
        duration=Avg(
            ExpressionWrapper(F("completed_at") - F("started_at"), output_field=DurationField()),
            filter=today & Q(status=Status.COMPLETED, started_at__isnull=False),
        ),
    )
    duration = figures["duration"]
    return {
        "tasks_active": figures["active"],
        "tasks_completed_today": figures["completed"],
        "tasks_failed_today": figures["failed"],
        "average_duration": round(duration.total_seconds(), 3) if duration is not None else None,
    }


def queue_metrics(user) -> dict:
    """The task metrics: queue lengths and workers are the installation's, the counts the user's (staff: all)."""
    executions = WorkflowExecution.objects.visible_to(user)
    return {
        "tasks_queued": queued_counts(),
        **execution_counts(executions),
        "worker_count": worker_count(),
    }
