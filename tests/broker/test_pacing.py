"""Historical-data pacing holds across worker processes: callers wait, nobody fails."""

import multiprocessing
import time

import pytest
from django.conf import settings

from broker.pacing import HistoricalPacer, PacingRules, required_wait

# The IBKR rules scaled down so the test takes a couple of seconds.
FAST_RULES = PacingRules(
    max_requests=5, window_seconds=3.0, identical_gap_seconds=1.0, max_per_contract=2, contract_window_seconds=1.0
)


def test_the_rules_say_how_long_to_wait():
    rules = PacingRules()
    assert required_wait(100.0, rules, [], [], []) == 0
    assert required_wait(100.0, rules, [95.0], [95.0], [95.0]) == pytest.approx(10.0)  # identical within 15 s
    assert required_wait(100.0, rules, [99.0] * 6, [99.0] * 6, []) == pytest.approx(1.0)  # 6 per contract in 2 s
    sixty = [float(t) for t in range(41, 101)]
    assert required_wait(100.0, rules, sixty, [], []) == pytest.approx(541.0)  # 60 in 10 min: wait for the oldest


def request_in_child(conid, request, results):
    """Runs in a forked worker process: same settings and Redis key prefix as the test."""
    HistoricalPacer(FAST_RULES, name="test").acquire(conid, request)
    results.put((conid, request, time.time()))


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis to share the limiter between processes")
def test_two_processes_share_one_limiter():
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    calls = [(1, "1y|1d"), (1, "1y|1d"), (1, "6m|1h"), (1, "5d|5min"), (2, "1y|1d"), (2, "1y|1w")]
    processes = [context.Process(target=request_in_child, args=(conid, request, results)) for conid, request in calls]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=30)
    assert all(process.exitcode == 0 for process in processes)
    sent = sorted(results.get(timeout=1) for _ in calls)

    identical = [t for conid, request, t in sent if (conid, request) == (1, "1y|1d")]
    assert identical[1] - identical[0] >= FAST_RULES.identical_gap_seconds - 0.05
    conid_one = sorted(t for conid, _, t in sent if conid == 1)
    for earlier, later in zip(conid_one, conid_one[2:], strict=False):
        assert later - earlier >= FAST_RULES.contract_window_seconds - 0.05
    everything = sorted(t for _, _, t in sent)
    assert everything[5] - everything[0] >= FAST_RULES.window_seconds - 0.05
