"""Provider limits kept by all processes together: requests in flight, requests and tokens a minute.

Every model call waits here for its provider's capacity before it is sent (agents.calls), so a
hundred strategies on any number of workers stay within what staff set for the provider (the
admin's ModelProvider, or the LLM_* settings for the default provider).

The counts live in Redis (settings.REDIS_URL, under settings.REDIS_KEY_PREFIX), changed only by
Lua scripts, so that checking and taking capacity is one atomic step:
- in-flight slots are members of a sorted set scored by a deadline; a process that dies holding
  one loses it when the deadline passes (the call's timeout and a margin), so no slot leaks;
- the minute's window is a sorted set of calls scored by when they were sent, each member carrying
  its tokens: the prompt's estimate plus `max_tokens` until the answer reports what was used;
- a provider's Retry-After pauses every caller of that provider, not only the one refused.
Without Redis the same rules hold within this process.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings

from agents.cancels import CancelWatch
from agents.clients import TransientModelError
from agents.providers import NO_LIMITS, ProviderLimits
from broker.coordination import redis_client

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
# A slot outlives its call by this much before it counts as leaked by a dead process.
SLOT_MARGIN_SECONDS = 30.0
# Longest sleep between two looks at a provider's capacity, and the wait when none can be predicted.
LONGEST_POLL_SECONDS = 1.0
POLL_SECONDS = 0.05


class ProviderBusy(TransientModelError):
    """The provider's limits left no capacity for longer than settings.LLM_LIMIT_WAIT_SECONDS."""


def client_limits(client) -> ProviderLimits:
    """The limits of the provider a client sends to; clients that send nothing (the offline analyst,
    recorded answers, test doubles) carry none."""
    return getattr(client, "limits", NO_LIMITS)


@dataclass(frozen=True)
class Refusal:
    """Why a call may not go yet, and how long until it might (0: unknown, look again soon)."""

    reason: str
    wait: float


def _reason(code: str, limits: ProviderLimits) -> str:
    return {
        "paused": "the provider asked to wait (Retry-After)",
        "in_flight": f"{limits.max_in_flight} requests in flight",
        "requests": f"{limits.requests_per_minute} requests a minute",
        "tokens": f"{limits.tokens_per_minute} tokens a minute",
    }[code]


# KEYS: slots, window, pause. ARGV: now, slot deadline, max in flight, requests a minute,
# tokens a minute, the call's tokens, its id, the window's seconds (0 for a limit: none).
# Returns {1} when the call may go (its slot and window entry taken), else {0, wait, reason}.
ADMIT = """
local now = tonumber(ARGV[1])
local paused_until = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused_until > now then return {0, tostring(paused_until - now), 'paused'} end
local max_in_flight = tonumber(ARGV[3])
if max_in_flight > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= max_in_flight then return {0, '0', 'in_flight'} end
end
local rpm, tpm, tokens, window = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[8])
if rpm > 0 or tpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  local count = #entries / 2
  if rpm > 0 and count >= rpm then
    return {0, tostring(tonumber(entries[(count - rpm) * 2 + 2]) + window - now), 'requests'}
  end
  if tpm > 0 then
    local used = 0
    for i = 1, #entries, 2 do used = used + tonumber(string.match(entries[i], ':(%d+)$')) end
    if used > 0 and used + tokens > tpm then
      for i = 1, #entries, 2 do
        used = used - tonumber(string.match(entries[i], ':(%d+)$'))
        if used == 0 or used + tokens <= tpm then
          return {0, tostring(tonumber(entries[i + 1]) + window - now), 'tokens'}
        end
      end
    end
  end
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[7] .. ':' .. ARGV[6])
  redis.call('PEXPIRE', KEYS[2], math.ceil((window + 1) * 1000))
end
if max_in_flight > 0 then
  local deadline = tonumber(ARGV[2])
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[7])
  local ttl = math.ceil((deadline - now + 1) * 1000)
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return {1}
"""

# KEYS: window. ARGV: the call's id, the tokens it was counted with, the tokens it used.
SETTLE = """
local member = ARGV[1] .. ':' .. ARGV[2]
local sent = redis.call('ZSCORE', KEYS[1], member)
if sent then
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZADD', KEYS[1], sent, ARGV[1] .. ':' .. ARGV[3])
end
return 1
"""

# KEYS: pause. ARGV: until (epoch seconds), its time to live in ms. A later pause wins.
PAUSE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
"""


def _limit(value: int | None) -> int:
    return value or 0


class _RedisLimits:
    """The counts in Redis, seen by every process."""

    def __init__(self, client):
        self.client = client
        self.admit_script = client.register_script(ADMIT)
        self.settle_script = client.register_script(SETTLE)
        self.pause_script = client.register_script(PAUSE)

    @staticmethod
    def key(provider: str, part: str) -> str:
        return f"{settings.REDIS_KEY_PREFIX}llm-limits:{provider}:{part}"

    def admit(self, provider, limits, call_id, tokens, now, deadline) -> Refusal | None:
        keys = [self.key(provider, "in-flight"), self.key(provider, "minute"), self.key(provider, "paused")]
        args = [
            repr(now),
            repr(deadline),
            _limit(limits.max_in_flight),
            _limit(limits.requests_per_minute),
            _limit(limits.tokens_per_minute),
            tokens,
            call_id,
            repr(WINDOW_SECONDS),
        ]
        answer = self.admit_script(keys=keys, args=args)
        if answer[0] == 1:
            return None
        return Refusal(_reason(answer[2].decode(), limits), max(float(answer[1]), 0.0))

    def settle(self, provider, call_id, counted, used) -> None:
        self.settle_script(keys=[self.key(provider, "minute")], args=[call_id, counted, used])

    def free_slot(self, provider, call_id) -> None:
        self.client.zrem(self.key(provider, "in-flight"), call_id)

    def pause(self, provider, until, now) -> None:
        ttl_ms = max(int((until - now) * 1000) + 1000, 1)
        self.pause_script(keys=[self.key(provider, "paused")], args=[repr(until), ttl_ms])


@dataclass
class _ProviderCounts:
    slots: dict[str, float] = field(default_factory=dict)  # call id -> deadline
    window: dict[str, tuple[float, int]] = field(default_factory=dict)  # call id -> (sent at, tokens)
    paused_until: float = 0.0


class _LocalLimits:
    """The same counts and rules as the Lua scripts, for this process's threads only (no Redis)."""

    def __init__(self):
        self.providers: dict[str, _ProviderCounts] = {}
        self.guard = threading.Lock()

    def admit(self, provider, limits, call_id, tokens, now, deadline) -> Refusal | None:
        with self.guard:
            counts = self.providers.setdefault(provider, _ProviderCounts())
            if counts.paused_until > now:
                return Refusal(_reason("paused", limits), counts.paused_until - now)
            if limits.max_in_flight:
                counts.slots = {call: until for call, until in counts.slots.items() if until > now}
                if len(counts.slots) >= limits.max_in_flight:
                    return Refusal(_reason("in_flight", limits), 0.0)
            if limits.requests_per_minute or limits.tokens_per_minute:
                counts.window = {
                    call: entry for call, entry in counts.window.items() if entry[0] > now - WINDOW_SECONDS
                }
                entries = sorted(counts.window.values())
                rpm = limits.requests_per_minute
                if rpm and len(entries) >= rpm:
                    return Refusal(_reason("requests", limits), entries[len(entries) - rpm][0] + WINDOW_SECONDS - now)
                tpm = limits.tokens_per_minute
                used = sum(entry_tokens for _, entry_tokens in entries)
                if tpm and used > 0 and used + tokens > tpm:
                    for sent, entry_tokens in entries:
                        used -= entry_tokens
                        if used == 0 or used + tokens <= tpm:
                            return Refusal(_reason("tokens", limits), sent + WINDOW_SECONDS - now)
                counts.window[call_id] = (now, tokens)
            if limits.max_in_flight:
                counts.slots[call_id] = deadline
            return None

    def settle(self, provider, call_id, counted, used) -> None:
        with self.guard:
            window = self.providers.setdefault(provider, _ProviderCounts()).window
            if call_id in window:
                window[call_id] = (window[call_id][0], used)

    def free_slot(self, provider, call_id) -> None:
        with self.guard:
            self.providers.setdefault(provider, _ProviderCounts()).slots.pop(call_id, None)

    def pause(self, provider, until, now) -> None:
        with self.guard:
            counts = self.providers.setdefault(provider, _ProviderCounts())
            counts.paused_until = max(counts.paused_until, until)


_local_limits = _LocalLimits()
_redis_limits: dict[int, _RedisLimits] = {}


def _counts():
    client = redis_client()
    if client is None:
        return _local_limits
    if id(client) not in _redis_limits:
        _redis_limits[id(client)] = _RedisLimits(client)
    return _redis_limits[id(client)]


@dataclass
class Capacity:
    """One call's share of its provider: tell it the tokens the answer reports with `used`."""

    provider: str
    call_id: str
    tokens: int
    used_tokens: int = 0

    def used(self, tokens: int) -> None:
        self.used_tokens = tokens


def _poll_sleep(wait: float, remaining: float) -> float:
    """Sleep before the next look: the predicted wait (capped), jittered so that waiters spread out."""
    base = min(wait, LONGEST_POLL_SECONDS) if wait > 0 else POLL_SECONDS
    return max(min(base * random.uniform(1.0, 1.5), remaining), 0.0)


@contextmanager
def provider_capacity(
    provider: str, limits: ProviderLimits, *, tokens: int, model: str = "", execution_id: int | None = None
) -> Iterator[Capacity]:
    """Wait (blocking this thread) until the provider has room for a call of `tokens`, hold it while
    the block runs, then give the slot back and count the tokens the answer reported (`used`; none
    when the call failed, since a refused call costs the provider nothing).

    Raises ProviderBusy after settings.LLM_LIMIT_WAIT_SECONDS without room, and CallCancelled
    (agents.cancels) as soon as the execution the call is for (`execution_id`) is cancelled while it waits.
    """
    call = Capacity(provider=provider, call_id=uuid.uuid4().hex, tokens=tokens)
    if not limits.any():
        yield call
        return
    counts = _counts()
    cancels = CancelWatch(execution_id, f"model call {model} waited for capacity at provider {provider}")
    started = time.monotonic()
    bound = settings.LLM_LIMIT_WAIT_SECONDS
    first_refusal = None
    while True:
        now = time.time()
        slot_deadline = now + settings.LLM_TIMEOUT + SLOT_MARGIN_SECONDS
        refusal = counts.admit(provider, limits, call.call_id, tokens, now, slot_deadline)
        if refusal is None:
            break
        waited = time.monotonic() - started
        if first_refusal is None:
            first_refusal = refusal
            logger.info("model call %s at provider %s waits for capacity: %s", model, provider, refusal.reason)
        if waited >= bound:
            raise ProviderBusy(
                f"{model} at provider {provider}: no capacity after waiting {waited:.0f} s ({refusal.reason}; "
                f"LLM_LIMIT_WAIT_SECONDS={bound:g})"
            )
        cancels.sleep(_poll_sleep(refusal.wait, bound - waited))
    if first_refusal is not None:
        logger.info(
            "model call %s at provider %s waited %.2f s for capacity (%s)",
            model,
            provider,
            time.monotonic() - started,
            first_refusal.reason,
        )
    try:
        yield call
    finally:
        if limits.max_in_flight:
            counts.free_slot(provider, call.call_id)
        if limits.requests_per_minute or limits.tokens_per_minute:
            counts.settle(provider, call.call_id, tokens, call.used_tokens)


def pause_provider(provider: str, limits: ProviderLimits, seconds: float) -> None:
    """Hold back every caller of the provider for `seconds`, as its Retry-After asked of one of them."""
    if seconds > 0 and limits.any():
        now = time.time()
        _counts().pause(provider, now + seconds, now)
