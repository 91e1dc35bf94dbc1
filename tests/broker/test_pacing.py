"""IBKR's pacing holds across worker processes: callers wait, nobody fails.

The hard historical limits bind bars of 30 s or less; larger bars keep only the soft limit;
every request counts towards the 50 in flight, every message towards 50 a second.
"""

import os
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack

import pytest
from django.conf import settings

from broker.pacing import HistoricalPacer, MessageRate, PacingRules, required_wait, soft_wait, tws_bar_seconds

# The IBKR rules scaled down so the test takes a couple of seconds.
FAST_RULES = PacingRules(
    max_requests=5, window_seconds=3.0, identical_gap_seconds=1.0, max_per_contract=2, contract_window_seconds=1.0
)
needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis to share the limits between processes")


def test_the_rules_say_how_long_to_wait():
    rules = PacingRules()
    assert required_wait(100.0, rules, [], [], []) == 0
    assert required_wait(100.0, rules, [95.0], [95.0], [95.0]) == pytest.approx(10.0)  # identical within 15 s
    assert required_wait(100.0, rules, [99.0] * 6, [99.0] * 6, []) == pytest.approx(1.0)  # 6 per contract in 2 s
    sixty = [float(t) for t in range(41, 101)]
    assert required_wait(100.0, rules, sixty, [], []) == pytest.approx(541.0)  # 60 in 10 min: wait for the oldest


def test_only_bars_of_30_seconds_or_less_are_hard_limited():
    rules = PacingRules()
    assert [rules.is_small(tws_bar_seconds(size)) for size in ("5 secs", "30 secs", "1 min", "1 day")] == [
        True, True, False, False,
    ]  # fmt: skip
    assert soft_wait(100.0, rules, [99.0] * 1000) == 0  # no soft limit set
    soft = PacingRules(soft_max_requests=3, soft_window_seconds=10.0)
    assert soft_wait(100.0, soft, [95.0, 96.0]) == 0
    assert soft_wait(100.0, soft, [95.0, 96.0, 97.0]) == pytest.approx(5.0)


def test_daily_bars_wait_for_nothing_but_the_soft_limit():
    pacer = HistoricalPacer(PacingRules(soft_max_requests=0), name=f"test-{uuid.uuid4().hex}")
    waits = [pacer.acquire(1, "1 Y|1 day|TRADES", tws_bar_seconds("1 day")) for _ in range(100)]
    assert max(waits) < 1.0  # 100 identical requests, one contract: none of the hard limits applies


@needs_redis
def test_the_message_budget_is_a_sliding_second():
    rate = MessageRate(PacingRules(max_messages_per_second=50), name=f"test-{uuid.uuid4().hex}")
    assert all(rate.try_take(now=1000.0 + n * 0.01) for n in range(50))
    assert not rate.try_take(now=1000.6)
    assert rate.try_take(now=1001.005)  # the first message of the second before has left the window


# Each child is a fresh interpreter (not a fork of the test process, whose threads may hold
# locks at fork time); it inherits the run's settings and Redis key prefix through the environment.
CHILD = """
import sys, time
from broker.pacing import HistoricalPacer, PacingRules
rules = PacingRules(max_requests=5, window_seconds=3.0, identical_gap_seconds=1.0,
                    max_per_contract=2, contract_window_seconds=1.0, max_in_flight=2)
pacer = HistoricalPacer(rules, name=sys.argv[3])
if sys.argv[1] == "in-flight":
    with pacer.in_flight():
        print(time.time())
else:
    pacer.acquire(int(sys.argv[1]), sys.argv[2], 5)
    print(time.time())
"""


def child(*args: str) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *args], env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE
    )


@needs_redis
def test_two_processes_share_one_limiter_for_small_bars():
    name = f"test-{uuid.uuid4().hex}"
    calls = [(1, "1y|1d"), (1, "1y|1d"), (1, "6m|1h"), (1, "5d|5min"), (2, "1y|1d"), (2, "1y|1w")]
    children = [child(str(conid), request, name) for conid, request in calls]
    outputs = [process.communicate(timeout=120)[0] for process in children]
    assert [process.returncode for process in children] == [0] * len(calls)
    sent = sorted((conid, request, float(out)) for (conid, request), out in zip(calls, outputs, strict=True))

    identical = [t for conid, request, t in sent if (conid, request) == (1, "1y|1d")]
    assert identical[1] - identical[0] >= FAST_RULES.identical_gap_seconds - 0.05
    conid_one = sorted(t for conid, _, t in sent if conid == 1)
    for earlier, later in zip(conid_one, conid_one[2:], strict=False):
        assert later - earlier >= FAST_RULES.contract_window_seconds - 0.05
    everything = sorted(t for _, _, t in sent)
    assert everything[5] - everything[0] >= FAST_RULES.window_seconds - 0.05


@needs_redis
def test_requests_in_flight_are_capped_across_processes():
    name = f"test-{uuid.uuid4().hex}"
    pacer = HistoricalPacer(PacingRules(max_in_flight=2), name=name)
    with ExitStack() as held:
        for _ in range(2):
            held.enter_context(pacer.in_flight())
        waiting = child("in-flight", "", name)
        time.sleep(1.0)  # the other process is waiting for a slot meanwhile
        assert waiting.poll() is None
        released = time.time()
    got_slot = float(waiting.communicate(timeout=120)[0])
    assert got_slot >= released
