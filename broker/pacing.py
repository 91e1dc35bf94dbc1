"""IBKR's pacing, shared by every process of the installation through Redis.

IBKR's rules (https://interactivebrokers.github.io/tws-api/historical_limitations.html):

- historical data for bars of 30 seconds or less: at most 60 requests in 10 minutes, 6 for one
  contract within 2 seconds, and no identical request within 15 seconds (hard limits: error 162);
- bars of 1 minute and longer: those limits were lifted, leaving only IBKR's soft throttling,
  so this side keeps a configurable soft limit (settings.IBKR_HISTORICAL_SOFT_LIMIT requests per
  10 minutes, 0 for none);
- always: at most 50 historical requests in flight, and at most 50 messages a second from the API.

The pacer makes callers WAIT until a request keeps every rule, never fail. Rules that count
past requests are checked and recorded under one short lock, so two processes never both take
the last slot; the in-flight and messages-per-second slots are taken atomically in Redis (a
Lua script). A slot left by a process that died expires. Without Redis the same rules hold for
the threads of one process.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings

from broker.coordination import named_lock, redis_client, redis_key

SMALL_BAR_SECONDS = 30
# TWS bar size settings, in seconds ("1 day" and longer count as a day: only ≤30 s matters here).
TWS_BAR_SECONDS = {
    "1 secs": 1, "5 secs": 5, "10 secs": 10, "15 secs": 15, "30 secs": 30,
    "1 min": 60, "2 mins": 120, "3 mins": 180, "5 mins": 300, "10 mins": 600, "15 mins": 900, "20 mins": 1200,
    "30 mins": 1800, "1 hour": 3600, "2 hours": 7200, "3 hours": 10800, "4 hours": 14400, "8 hours": 28800,
    "1 day": 86400, "1 week": 86400, "1 month": 86400,
}  # fmt: skip


def tws_bar_seconds(bar_size: str) -> int:
    """Seconds per bar of a TWS bar size setting ("5 secs" → 5); ValueError for one TWS does not offer."""
    try:
        return TWS_BAR_SECONDS[bar_size.strip()]
    except KeyError:
        raise ValueError(f"Unknown TWS bar size {bar_size!r}") from None


@dataclass(frozen=True)
class PacingRules:
    # The hard limits, for bars of small_bar_seconds or less.
    max_requests: int = 60
    window_seconds: float = 600.0
    identical_gap_seconds: float = 15.0
    max_per_contract: int = 6
    contract_window_seconds: float = 2.0
    small_bar_seconds: int = SMALL_BAR_SECONDS
    # The soft limit for larger bars: this many per soft_window_seconds (0: none).
    soft_max_requests: int = 0
    soft_window_seconds: float = 600.0
    # Always.
    max_in_flight: int = 50
    in_flight_timeout_seconds: float = 130.0  # a slot whose holder died frees itself after this
    max_messages_per_second: int = 50

    def is_small(self, bar_seconds: int) -> bool:
        return bar_seconds <= self.small_bar_seconds


IBKR_HISTORICAL = PacingRules()


def configured_rules() -> PacingRules:
    """IBKR's rules with this installation's soft limit for bars over 30 s."""
    return PacingRules(soft_max_requests=settings.IBKR_HISTORICAL_SOFT_LIMIT)


def required_wait(
    now: float, rules: PacingRules, all_times: list[float], contract_times: list[float], identical_times: list[float]
) -> float:
    """Seconds to wait before a small-bar request at `now` keeps the three hard rules (0 when it may go now)."""
    waits = [0.0]
    recent = sorted(t for t in all_times if t > now - rules.window_seconds)
    if len(recent) >= rules.max_requests:
        waits.append(recent[-rules.max_requests] + rules.window_seconds - now)
    contract = sorted(t for t in contract_times if t > now - rules.contract_window_seconds)
    if len(contract) >= rules.max_per_contract:
        waits.append(contract[-rules.max_per_contract] + rules.contract_window_seconds - now)
    if identical_times:
        waits.append(max(identical_times) + rules.identical_gap_seconds - now)
    return max(waits)


def soft_wait(now: float, rules: PacingRules, times: list[float]) -> float:
    """Seconds to wait before a larger-bar request at `now` keeps the soft limit (0 when none is set)."""
    if not rules.soft_max_requests:
        return 0.0
    recent = sorted(t for t in times if t > now - rules.soft_window_seconds)
    if len(recent) < rules.soft_max_requests:
        return 0.0
    return recent[-rules.soft_max_requests] + rules.soft_window_seconds - now


# Take one slot of a sorted set atomically: drop the members scored up to ARGV[1], and add
# ARGV[4] with score ARGV[3] if fewer than ARGV[2] remain. Returns 1 when the slot was taken.
TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


class _LocalStore:
    """Request times and slots kept in this process."""

    def __init__(self):
        self.members: dict[str, dict[str, float]] = defaultdict(dict)
        self.guard = threading.Lock()

    def recent(self, key: str, since: float) -> list[float]:
        with self.guard:
            kept = {member: score for member, score in self.members[key].items() if score > since}
            self.members[key] = kept
            return list(kept.values())

    def record(self, key: str, moment: float, keep_seconds: float) -> None:
        with self.guard:
            self.members[key][uuid.uuid4().hex] = moment

    def take_slot(self, key: str, drop_until: float, limit: int, score: float, keep_seconds: float) -> str | None:
        with self.guard:
            kept = {member: held for member, held in self.members[key].items() if held > drop_until}
            self.members[key] = kept
            if len(kept) >= limit:
                return None
            member = uuid.uuid4().hex
            kept[member] = score
            return member

    def give_back(self, key: str, member: str) -> None:
        with self.guard:
            self.members[key].pop(member, None)


class _RedisStore:
    """Request times and slots in Redis sorted sets, seen by every process."""

    def __init__(self, client):
        self.client = client
        self.take = client.register_script(TAKE_SLOT)

    def recent(self, key: str, since: float) -> list[float]:
        full_key = redis_key(f"pacing:{key}")
        self.client.zremrangebyscore(full_key, "-inf", since)
        return [score for _, score in self.client.zrangebyscore(full_key, since, "+inf", withscores=True)]

    def record(self, key: str, moment: float, keep_seconds: float) -> None:
        full_key = redis_key(f"pacing:{key}")
        pipe = self.client.pipeline()
        pipe.zadd(full_key, {f"{moment}:{uuid.uuid4().hex}": moment})
        pipe.expire(full_key, int(keep_seconds) + 1)
        pipe.execute()

    def take_slot(self, key: str, drop_until: float, limit: int, score: float, keep_seconds: float) -> str | None:
        member = uuid.uuid4().hex
        ttl_ms = int(keep_seconds * 1000) + 1000
        taken = self.take(keys=[redis_key(f"pacing:{key}")], args=[drop_until, limit, score, member, ttl_ms])
        return member if taken else None

    def give_back(self, key: str, member: str) -> None:
        self.client.zrem(redis_key(f"pacing:{key}"), member)


_local_store = _LocalStore()
_redis_stores: dict[int, _RedisStore] = {}


def _store():
    client = redis_client()
    if client is None:
        return _local_store
    if id(client) not in _redis_stores:
        _redis_stores[id(client)] = _RedisStore(client)
    return _redis_stores[id(client)]


class HistoricalPacer:
    def __init__(self, rules: PacingRules | None = None, name: str = "historical"):
        self.rules = rules or configured_rules()
        self.name = name

    def acquire(self, conid: int, request: str, bar_seconds: int) -> float:
        """Block until a request for `conid` described by `request` keeps the rules for its bar size
        (hard for small bars, the soft limit for larger ones) and record it; returns seconds waited."""
        small = self.rules.is_small(bar_seconds)
        if small:
            identical = hashlib.sha256(f"{conid}|{request}".encode()).hexdigest()[:24]
            keys = {
                "all": (f"{self.name}:all", self.rules.window_seconds),
                "contract": (f"{self.name}:contract:{conid}", self.rules.contract_window_seconds),
                "identical": (f"{self.name}:identical:{identical}", self.rules.identical_gap_seconds),
            }
        elif self.rules.soft_max_requests:
            keys = {"soft": (f"{self.name}:soft", self.rules.soft_window_seconds)}
        else:
            return 0.0
        started = time.monotonic()
        while True:
            with named_lock(f"pacing:{self.name}", hold_seconds=10, wait_seconds=60):
                store, now = _store(), time.time()
                recent = {name: store.recent(key, now - keep) for name, (key, keep) in keys.items()}
                if small:
                    wait = required_wait(now, self.rules, recent["all"], recent["contract"], recent["identical"])
                else:
                    wait = soft_wait(now, self.rules, recent["soft"])
                if wait <= 0:
                    for key, keep in keys.values():
                        store.record(key, now, keep)
                    return time.monotonic() - started
            time.sleep(min(wait, 5.0) + 0.01)

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        """Hold one of the max_in_flight slots for historical requests while the block runs."""
        key = f"{self.name}:in-flight"
        store = _store()
        while True:
            now = time.time()
            timeout = self.rules.in_flight_timeout_seconds
            member = store.take_slot(key, now, self.rules.max_in_flight, now + timeout, timeout)
            if member is not None:
                break
            time.sleep(0.02)
        try:
            yield
        finally:
            store.give_back(key, member)

    @contextmanager
    def request(self, conid: int, request: str, bar_seconds: int) -> Iterator[float]:
        """Wait for the rules, then hold an in-flight slot while the request runs; yields seconds waited."""
        waited = self.acquire(conid, request, bar_seconds)
        with self.in_flight():
            yield waited


class MessageRate:
    """At most `rules.max_messages_per_second` messages a second to the gateway, from all processes."""

    def __init__(self, rules: PacingRules = IBKR_HISTORICAL, name: str = "messages"):
        self.rules = rules
        self.name = name

    def try_take(self, now: float | None = None) -> bool:
        """Take one message's slot at `now` (default: now) if the second before it leaves one."""
        now = time.time() if now is None else now
        return _store().take_slot(self.name, now - 1.0, self.rules.max_messages_per_second, now, 1.0) is not None
