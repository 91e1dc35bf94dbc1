"""Workers SIGKILLed at random while executions place orders: nothing lost, no order twice, books agree.

Scaled for CI: 18 executions of the single-timeframe template (bars, indicators, chart, offline
analyst, risk, a bracket order at the simulated exchange) over 2 symbols each, on 2 worker
processes, and 6 SIGKILLs of a whole worker (main process and pool child) at random moments (seeded,
so a failure can be replayed), each followed by a fresh worker. The issue's full size is 200
executions and 20 kills; the promise checked is the same.
"""

import random
import time
from collections import Counter

import pytest

from broker.models import Order, SimulatedOrder
from execution.models import Decision, StepRun, WorkflowExecution
from execution.services import execution_create, execution_enqueue
from tests.execution.conftest import make_strategy, workflow_from_template
from tests.workers import WorkerProcess, wait_until

EXECUTIONS = 18
SYMBOLS_PER_EXECUTION = 2
KILLS = 6
WORKERS = 2
SEED = 20261125
# A worker hands out again the messages a dead worker left unacknowledged (once they are older than
# the visibility timeout) when it starts, and then only every 100 s (Celery polls kombu's restore
# every 10 s, kombu acts on every 10th call). The timeout must stay above the longest execution, or
# a running one would be handed out a second time and run twice at once (production's is 2 hours).
VISIBILITY_TIMEOUT = 40
# A worker killed while it holds a broker lock (an order's submission, a bars download) holds up the
# redelivered execution until the lock expires: 15 s here (the simulated exchange answers in well
# under a second), 2 minutes by default.
BROKER_LOCK_SECONDS = 15


def symbols_for(number: int) -> list[str]:
    """Distinct symbols per execution: the same symbol bought again and again would only meet the position cap."""
    return [f"K{number:02d}{letter}" for letter in "ABCDEFGH"[:SYMBOLS_PER_EXECUTION]]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_random_worker_kills_lose_no_execution_and_place_no_order_twice(alice, worker_env):
    worker_env = {
        **worker_env,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "BROKER_LOCK_SECONDS": str(BROKER_LOCK_SECONDS),
    }
    chance = random.Random(SEED)
    workflow = workflow_from_template(alice, "single_timeframe")
    executions = []
    for number in range(EXECUTIONS):
        strategy = make_strategy(alice, workflow, symbols=symbols_for(number), name=f"Killed {number}")
        executions.append(execution_create(owner=alice, strategy=strategy, params={"symbol_delay": 0}))
    ids = [execution.pk for execution in executions]
    done = WorkflowExecution.objects.filter(pk__in=ids, completed_at__isnull=False)
    workers = [WorkerProcess(f"sigkill{n}", env=worker_env).start() for n in range(WORKERS)]
    killed = []
    try:
        for worker in workers:
            worker.wait_ready()
        for execution in executions:
            execution_enqueue(execution)
        while len(killed) < KILLS and done.count() < EXECUTIONS:
            time.sleep(chance.uniform(2, 6))
            victim = chance.randrange(WORKERS)
            workers[victim].kill()
            killed.append(workers[victim])
            workers[victim] = WorkerProcess(f"sigkill{victim}", env=worker_env).start()
        # One more worker once the last kill's messages are past the visibility timeout: it hands them
        # out as it starts, instead of the survivors doing so at their next restore, up to 100 s later.
        time.sleep(VISIBILITY_TIMEOUT)
        workers.append(WorkerProcess("sigkill-late", env=worker_env).start())
        wait_until(lambda: done.count() == EXECUTIONS, timeout=180, interval=0.5, message="every execution ended")
    finally:
        for worker in workers:
            worker.stop()

    assert len(killed) >= KILLS // 2, "the batch ended before most of the kills"
    redelivered = WorkflowExecution.objects.filter(pk__in=ids, attempt__gte=2).count()
    assert redelivered, "no kill landed in a running execution: the test would prove nothing"
    statuses = Counter(WorkflowExecution.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {"completed": EXECUTIONS}, (statuses, list(done.exclude(status="completed").values("error")))
    assert not StepRun.objects.filter(execution_id__in=ids, status="running").exists()
    # One decision per execution and symbol, however often its task was delivered.
    decisions = Counter(Decision.objects.filter(execution_id__in=ids).values_list("execution_id", "instrument_id"))
    assert set(decisions.values()) == {1} and len(decisions) == EXECUTIONS * SYMBOLS_PER_EXECUTION
    orders = Order.objects.filter(execution_id__in=ids, parent=None)
    assert orders.exists(), "no order was placed: the test would prove nothing"
    assert max(Counter(orders.values_list("decision_id", flat=True)).values()) == 1  # at most one order per decision
    at_exchange = Counter(
        SimulatedOrder.objects.filter(parent=None, order_ref__in=orders.values("idempotency_key")).values_list(
            "order_ref", flat=True
        )
    )
    assert set(at_exchange.values()) == {1}, "an idempotency key reached the exchange twice"
    # The books agree: every order at the exchange is an Order row that knows its broker id, and back.
    stray = SimulatedOrder.objects.filter(parent=None, order_ref__regex=rf"^tw-({'|'.join(map(str, ids))})-").exclude(
        order_ref__in=orders.values("idempotency_key")
    )
    assert not stray.exists()
    assert sorted(at_exchange) == sorted(orders.exclude(broker_order_id="").values_list("idempotency_key", flat=True))
    assert not orders.filter(status__in=["pending", "needs_reconciliation"]).exists()
