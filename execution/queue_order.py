"""The order in which workers take queued messages: strict priority between queues, owners interleaved within one.

Strict priority (high before normal before low, always). kombu's Redis transport consumes with
one BRPOP over every queue, and Redis answers from the first non-empty key in the order given.
Its "priority" strategy is meant to keep that order fixed, but it is fed the channel's queues as
a *set*, so the order is whatever the process's string hashing makes of it (PYTHONHASHSEED differs
per process): one worker would drain low before high. `StrictPriorityCycle` sorts the queues by
settings.CELERY_TASK_QUEUES_BY_PRIORITY instead; settings name it in
CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"].

Fairness between owners. Each queue is kept by kombu as one Redis list per message priority step
(`<queue>`, `<queue>\\x06\\x161`, … `<queue>\\x06\\x169`, settings' "priority_steps"; step 0 is
taken first, each list first in first out). An execution's message goes to the step of its
owner's rank among the owner's messages already waiting in that queue (`fair_message_options`):
the first waiting one to step 0, the second to step 1, and so on up to the last step. So one owner's
fifty queued runs and another owner's one interleave: the newcomer's run is next after the
first owner's first. The rank is read from the queue itself (a message carries its owner in a
header), so it holds for every kind of send and never drifts from what really waits.

kombu asks for the lists step by step across the queues (high:0, normal:0, low:0, high:1, …),
which would put low's step 0 before high's step 1; `StrictPriorityChannel` asks queue by queue
(every list of high, then of normal, then of low), and settings name `StrictPriorityTransport`
as the broker transport when the broker is Redis.
"""

from celery import current_app
from kombu.transport import redis
from kombu.utils.scheduling import priority_cycle

DEFAULT_ORDER = ("high", "normal", "low")
OWNER_HEADER = "fair_owner"
# Counts the messages in the lists KEYS whose payload holds ARGV[1] (the owner's quoted header value;
# the body is base64, so only a header can hold it). Run inside Redis: only the count travels.
COUNT_OWNER_MESSAGES = """
local count = 0
for _, key in ipairs(KEYS) do
  for _, payload in ipairs(redis.call('LRANGE', key, 0, -1)) do
    if string.find(payload, ARGV[1], 1, true) then count = count + 1 end
  end
end
return count
"""


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


def consumption_keys(channel, queues) -> list[str]:
    """The Redis lists of `queues` in the order they are consumed: queue by queue, step by step within one."""
    return [channel._q_for_pri(queue, step) for queue in queues for step in channel.priority_steps]


class StrictPriorityChannel(redis.Channel):
    def _brpop_start(self, timeout=1):
        # kombu's own method but for the key order (it loops over the steps first, then the queues).
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        self._in_poll = self.client.connection
        command_args = ["BRPOP", *consumption_keys(self, queues), timeout or 0]
        if self.global_keyprefix:
            command_args = self.client._prefix_args(command_args)
        self.client.connection.send_command(*command_args)


class StrictPriorityTransport(redis.Transport):
    Channel = StrictPriorityChannel


def owner_mark(owner_id: int) -> str:
    return f"owner:{owner_id}"


def fair_message_options(execution) -> dict:
    """apply_async options that queue `execution`'s message behind its owner's messages already waiting.

    The message priority is the owner's rank in the execution's queue (capped at the last step),
    and a header names the owner for the next rank. Without a Redis broker there is nothing to rank.
    """
    mark = owner_mark(execution.owner_id)
    with current_app.connection_or_acquire() as connection:
        if connection.transport.driver_name != "redis":
            return {}
        channel = connection.default_channel
        keys = [channel.global_keyprefix + key for key in consumption_keys(channel, [execution.priority])]
        with channel.conn_or_acquire() as client:
            waiting = client.eval(COUNT_OWNER_MESSAGES, len(keys), *keys, f'"{mark}"')
        steps = channel.priority_steps
    return {"priority": steps[min(waiting, len(steps) - 1)], "headers": {OWNER_HEADER: mark}}
