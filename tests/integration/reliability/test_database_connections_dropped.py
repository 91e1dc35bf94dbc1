"""PostgreSQL drops a worker's connections mid-execution: the execution ends cleanly, its step runs kept.

The worker's connections carry an application name (libpq's PGAPPNAME), and a superuser connection
terminates them with pg_terminate_backend while the run is between its first and second symbol,
the way a database failover or an administrator's kill does.
"""

import psycopg
import pytest

from broker.models import Order, SimulatedOrder
from execution.models import StepRun, WorkflowExecution
from execution.services import execution_create, execution_enqueue
from tests.execution.conftest import make_strategy, workflow_from_template
from tests.workers import WorkerProcess, database_url, finished, wait_until

pytestmark = pytest.mark.processes

APPLICATION_NAME = "tw-reliability-worker"


def terminate_worker_connections() -> int:
    with psycopg.connect(database_url(), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (APPLICATION_NAME,),
        ).fetchall()
    return len(rows)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_dropped_database_connection_ends_the_execution_cleanly_with_its_step_runs_kept(alice, worker_env):
    workflow = workflow_from_template(alice, "single_timeframe")
    strategy = make_strategy(alice, workflow, symbols=("AAPL", "MSFT", "NVDA"))
    execution = execution_create(owner=alice, strategy=strategy, params={"symbol_delay": 2})
    worker = WorkerProcess("pg-dropped", concurrency=1, env={**worker_env, "PGAPPNAME": APPLICATION_NAME}).start()
    try:
        worker.wait_ready()
        execution_enqueue(execution)
        wait_until(
            lambda: WorkflowExecution.objects.get(pk=execution.pk).progress.get("completed_symbols", 0) >= 1,
            timeout=90,
            message="the first symbol done",
        )
        kept = {run.pk: run.status for run in StepRun.objects.filter(execution=execution).exclude(status="running")}

        assert terminate_worker_connections() >= 1

        done = wait_until(lambda: finished(execution.pk), timeout=90, message="the execution ended")
    finally:
        worker.stop()

    assert done.status in (WorkflowExecution.Status.FAILED, WorkflowExecution.Status.COMPLETED), done.status
    if done.status == WorkflowExecution.Status.FAILED:
        assert "database" in done.error.lower(), done.error
    runs = StepRun.objects.filter(execution=execution)
    assert {run.pk: run.status for run in runs.filter(pk__in=kept)} == kept  # what was done is kept as it was
    assert not runs.filter(status="running").exists(), "a step run was left running"
    assert runs.filter(symbol="AAPL", step_type="place_order").exists()
    # Orders at the simulated exchange and Order rows still agree, one for one.
    at_exchange = sorted(SimulatedOrder.objects.filter(order_ref__startswith=f"tw-{execution.pk}-", parent=None)
                         .values_list("order_ref", flat=True))  # fmt: skip
    recorded = sorted(Order.objects.filter(execution=execution, parent=None).exclude(broker_order_id="")
                      .values_list("idempotency_key", flat=True))  # fmt: skip
    assert at_exchange == recorded
