"""Historical-data pacing holds across worker processes: callers wait, nobody fails."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from broker.pacing import PacingRules, required_wait

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


# Each child is a fresh interpreter (not a fork of the test process, whose threads may hold
# locks at fork time); it inherits the run's settings and Redis key prefix through the environment.
CHILD = """
import sys, time
from broker.pacing import HistoricalPacer, PacingRules
rules = PacingRules(max_requests=5, window_seconds=3.0, identical_gap_seconds=1.0,
                    max_per_contract=2, contract_window_seconds=1.0)
HistoricalPacer(rules, name="test").acquire(int(sys.argv[1]), sys.argv[2])
print(time.time())
"""


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis to share the limiter between processes")
def test_two_processes_share_one_limiter():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    calls = [(1, "1y|1d"), (1, "1y|1d"), (1, "6m|1h"), (1, "5d|5min"), (2, "1y|1d"), (2, "1y|1w")]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(conid), request], env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE
        )
        for conid, request in calls
    ]
    outputs = [child.communicate(timeout=120)[0] for child in children]
    assert [child.returncode for child in children] == [0] * len(calls)
    sent = sorted((conid, request, float(out)) for (conid, request), out in zip(calls, outputs, strict=True))

    identical = [t for conid, request, t in sent if (conid, request) == (1, "1y|1d")]
    assert identical[1] - identical[0] >= FAST_RULES.identical_gap_seconds - 0.05
    conid_one = sorted(t for conid, _, t in sent if conid == 1)
    for earlier, later in zip(conid_one, conid_one[2:], strict=False):
        assert later - earlier >= FAST_RULES.contract_window_seconds - 0.05
    everything = sorted(t for _, _, t in sent)
    assert everything[5] - everything[0] >= FAST_RULES.window_seconds - 0.05
