"""The order in which workers take queued messages: strict priority between queues, owners interleaved within one.

Strict priority (high before normal before low, always). kombu's Redis transport consumes with
one BRPOP over every queue, and Redis answers from the first non-empty key in the order given.
Its "priority" strategy is meant to keep that order fixed, but it is fed the channel's queues as
a *set*, so the order is whatever the process's string hashing makes of it (PYTHONHASHSEED differs
per process): one worker would drain low before high. `StrictPriorityCycle` sorts the queues by
settings.CELERY_TASK_QUEUES_BY_PRIORITY instead; settings name it in
CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"].

Fairness between owners. kombu keeps each queue as one Redis list per message priority step
(`<queue>`, `<queue>\\x06\\x161`, … `<queue>\\x06\\x169`: settings' "priority_steps"; step 0 is taken
first, each list first in, first out). An execution's message goes to the step of its owner's rank
among the owner's messages already waiting in that queue (`fair_message_options`): the first to
step 0, the second to step 1, and so on up to the last step. So one owner's fifty queued runs and
another owner's one interleave: the newcomer's run comes right after the first owner's first.

The ranks come from a count per queue and owner (a Redis hash `<queue>\\x06\\x16owners`) that the
transport keeps with the queue itself: a message carrying the owner header adds one in the same
transaction that pushes it, and takes it off when a consumer receives it; a message restored from
a lost consumer adds it again, a purge clears it. So it counts every kind of send (first run,
continuation, resend) at the cost of one hash field, whatever the queue's length. A count a crash
left wrong lasts at most until that queue is next empty: a rank is read as 0 then, and the hash cleared.

kombu asks for the lists step by step across the queues (high:0, normal:0, low:0, high:1, …),
which would take low's step 0 before high's step 1; `StrictPriorityChannel` asks queue by queue
(every list of high, then of normal, then of low). Settings name `StrictPriorityTransport` as the
broker transport when the broker is Redis.
"""

from celery import current_app
from django.conf import settings
from kombu.transport import redis
from kombu.utils.json import dumps
from kombu.utils.scheduling import priority_cycle

OWNER_HEADER = "fair_owner"
# KEYS[1]: a queue's owner counts, KEYS[2..]: its lists; ARGV[1]: an owner. Their waiting messages.
READ_OWNER_COUNT = """
for i = 2, #KEYS do
  if redis.call('LLEN', KEYS[i]) > 0 then
    return math.max(tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0'), 0)
  end
end
redis.call('DEL', KEYS[1])
return 0
"""
# KEYS[1]: a queue's owner counts; ARGV[1]: an owner, ARGV[2]: +1 or -1. No count stays at or below 0.
ADD_TO_OWNER_COUNT = """
local count = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if count <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return count
"""


def queue_rank(order: tuple[str, ...] | list[str]):
    """Sort key: the queues named in `order` by their position, any other queue after them by name."""
    position = {name: index for index, name in enumerate(order)}
    return lambda queue: (position.get(queue, len(position)), queue)


class StrictPriorityCycle(priority_cycle):
    """Always offers the queues in the configured priority order (nothing rotates)."""

    def update(self, it):
        self.items[:] = sorted(it, key=queue_rank(settings.CELERY_TASK_QUEUES_BY_PRIORITY))


def consumption_keys(channel, queues) -> list[str]:
    """The Redis lists of `queues` in the order they are consumed: queue by queue, step by step within one."""
    return [channel._q_for_pri(queue, step) for queue in queues for step in channel.priority_steps]


class FairQoS(redis.QoS):
    def append(self, message, delivery_tag):
        super().append(message, delivery_tag)
        owner = (message.headers or {}).get(OWNER_HEADER)
        if owner:
            delivery = message.delivery_info
            with self.channel.conn_or_acquire() as client:
                for queue in self.channel._lookup(delivery["exchange"], delivery["routing_key"]):
                    self.channel.add_to_owner_count(client, queue, owner, -1)


class StrictPriorityChannel(redis.Channel):
    QoS = FairQoS

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

    def owner_counts_key(self, queue: str) -> str:
        return f"{queue}{self.sep}owners"

    def add_to_owner_count(self, client, queue: str, owner: str, delta: int) -> None:
        # EVAL's keys are not given the global prefix by kombu's client (LPUSH, DEL, … are).
        client.eval(ADD_TO_OWNER_COUNT, 1, self.global_keyprefix + self.owner_counts_key(queue), owner, delta)

    def owner_waiting(self, queue: str, owner: str) -> int:
        """The owner's messages waiting in `queue` (0 when the queue is empty)."""
        keys = [self.owner_counts_key(queue), *consumption_keys(self, [queue])]
        with self.conn_or_acquire() as client:
            return client.eval(READ_OWNER_COUNT, len(keys), *(self.global_keyprefix + key for key in keys), owner)

    def _put(self, queue, message, **kwargs):
        owner = (message.get("headers") or {}).get(OWNER_HEADER)
        if not owner:
            return super()._put(queue, message, **kwargs)
        step = self._get_message_priority(message, reverse=False)
        with self.conn_or_acquire() as client, client.pipeline() as pipe:  # a transaction: both or neither
            pipe.lpush(self._q_for_pri(queue, step), dumps(message))
            self.add_to_owner_count(pipe, queue, owner, 1)
            pipe.execute()

    def _do_restore_message(self, payload, exchange, routing_key, pipe, leftmost=False):
        super()._do_restore_message(payload, exchange, routing_key, pipe, leftmost)
        owner = (payload.get("headers") or {}).get(OWNER_HEADER)
        if owner:
            for queue in self._lookup(exchange, routing_key):
                self.add_to_owner_count(pipe, queue, owner, 1)

    def _purge(self, queue):
        size = super()._purge(queue)
        with self.conn_or_acquire() as client:
            client.delete(self.owner_counts_key(queue))
        return size


class StrictPriorityTransport(redis.Transport):
    Channel = StrictPriorityChannel


def fair_message_options(owner_id: int, queue: str) -> dict:
    """apply_async options that queue an execution's message after its owner's messages already waiting in `queue`.

    The message's priority step is the owner's rank in the queue (capped at the last step), and a
    header names the owner for the counts. Without the Redis transport there is nothing to rank.
    """
    owner = f"owner:{owner_id}"
    with current_app.connection_or_acquire() as connection:
        channel = connection.default_channel
        if not isinstance(channel, StrictPriorityChannel):
            return {}
        steps = channel.priority_steps
        waiting = channel.owner_waiting(queue, owner)
    return {"priority": steps[min(waiting, len(steps) - 1)], "headers": {OWNER_HEADER: owner}}
