"""IBKR historical-data pacing, shared by every worker process through Redis.

IBKR refuses historical-data requests beyond about 60 per 10 minutes, an identical request
within 15 seconds, or more than 6 requests for one contract within 2 seconds. The pacer
makes callers WAIT until a request would be within all three rules, then records it; the
check-and-record happens under a short lock so two processes never both take the last slot.
Without Redis the same rules hold for the threads of one process.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass

from broker.coordination import named_lock, redis_client, redis_key


@dataclass(frozen=True)
class PacingRules:
    max_requests: int = 60
    window_seconds: float = 600.0
    identical_gap_seconds: float = 15.0
    max_per_contract: int = 6
    contract_window_seconds: float = 2.0


IBKR_HISTORICAL = PacingRules()


def required_wait(
    now: float, rules: PacingRules, all_times: list[float], contract_times: list[float], identical_times: list[float]
) -> float:
    """Seconds to wait before a request at `now` keeps all three rules (0 when it may go now)."""
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


class _LocalTimes:
    """Request times kept in this process."""

    def __init__(self):
        self.times: dict[str, list[float]] = defaultdict(list)

    def recent(self, key: str, since: float) -> list[float]:
        self.times[key] = [t for t in self.times[key] if t > since]
        return list(self.times[key])

    def record(self, key: str, moment: float, keep_seconds: float) -> None:
        self.times[key].append(moment)


class _RedisTimes:
    """Request times in Redis sorted sets, visible to every worker."""

    def __init__(self, client):
        self.client = client

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


_local_times = _LocalTimes()


class HistoricalPacer:
    def __init__(self, rules: PacingRules = IBKR_HISTORICAL, name: str = "historical"):
        self.rules = rules
        self.name = name

    def _times(self):
        client = redis_client()
        return _RedisTimes(client) if client is not None else _local_times

    def acquire(self, conid: int, request: str) -> float:
        """Block until a request for `conid` described by `request` may be sent; returns seconds waited."""
        identical = hashlib.sha256(f"{conid}|{request}".encode()).hexdigest()[:24]
        keys = {
            "all": (f"{self.name}:all", self.rules.window_seconds),
            "contract": (f"{self.name}:contract:{conid}", self.rules.contract_window_seconds),
            "identical": (f"{self.name}:identical:{identical}", self.rules.identical_gap_seconds),
        }
        started = time.monotonic()
        while True:
            with named_lock(f"pacing:{self.name}", hold_seconds=10, wait_seconds=60):
                store, now = self._times(), time.time()
                recent = {name: store.recent(key, now - keep) for name, (key, keep) in keys.items()}
                wait = required_wait(now, self.rules, recent["all"], recent["contract"], recent["identical"])
                if wait <= 0:
                    for key, keep in keys.values():
                        store.record(key, now, keep)
                    return time.monotonic() - started
            time.sleep(min(wait, 5.0) + 0.01)
