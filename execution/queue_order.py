"""Strict priority between the Celery queues on Redis: high before normal before low, always.

kombu's Redis transport consumes with one BRPOP over every queue, and Redis answers from the
first non-empty key in the order given. Its "priority" strategy is meant to keep that order
fixed, but it is fed the channel's queues as a *set*, so the order is whatever the process's
string hashing makes of it (PYTHONHASHSEED differs per process): one worker would drain low
before high. This cycle sorts the queues by settings.CELERY_TASK_QUEUES_BY_PRIORITY instead;
settings name it in CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"].
"""

from kombu.utils.scheduling import priority_cycle

DEFAULT_ORDER = ("high", "normal", "low")


def queue_rank(order: tuple[str, ...] | list[str]):
    """Sort key: the queues named in `order` by their position, any other queue after them by name."""
    position = {name: index for index, name in enumerate(order)}
    return lambda queue: (position.get(queue, len(position)), queue)


class StrictPriorityCycle(priority_cycle):
    """Always offers the queues in the configured priority order (nothing rotates)."""

    def update(self, it):
        from django.conf import settings

        order = getattr(settings, "CELERY_TASK_QUEUES_BY_PRIORITY", DEFAULT_ORDER)
        self.items[:] = sorted(it, key=queue_rank(order))
