"""A redelivered execution finishes without a second decision or order; a lost broker session aborts the run."""

import pytest

from broker.adapters.base import BrokerStatus
from broker.adapters.simulated import SimulatedAdapter
from broker.models import Order
from execution import engine
from execution.models import Decision, StepRun, WorkflowExecution
from execution.runner import run_execution
from execution.services import execution_create
from tests.execution.conftest import make_strategy, workflow_from_template


@pytest.fixture
def execution(alice):
    workflow = workflow_from_template(alice, "single_timeframe")
    strategy = make_strategy(alice, workflow, symbols=("AAPL", "MSFT", "NVDA"))
    return execution_create(owner=alice, strategy=strategy, params={"symbol_delay": 0})


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_execution_reuses_its_decisions_and_places_no_second_order(market_open, execution):
    run_execution(execution.pk)
    orders_before = list(Order.objects.filter(execution=execution).values_list("idempotency_key", flat=True))
    decisions_before = list(Decision.objects.filter(execution=execution).values_list("pk", flat=True))
    assert orders_before, "the simulated market should give at least one approved trade for these symbols"
    # The worker died after the work but before the task was acknowledged: the broker redelivers it.
    WorkflowExecution.objects.filter(pk=execution.pk).update(status=WorkflowExecution.Status.RUNNING)

    run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.COMPLETED
    assert execution.attempt == 2
    assert sorted(Decision.objects.filter(execution=execution).values_list("pk", flat=True)) == sorted(decisions_before)
    assert sorted(Order.objects.filter(execution=execution).values_list("idempotency_key", flat=True)) == sorted(
        orders_before
    )
    second_attempt = StepRun.objects.filter(execution=execution, attempt=2, step_id="decide")
    assert second_attempt.count() == 3 and all(run.output["reused"] for run in second_attempt)


class LoggedOutGateway(SimulatedAdapter):
    """What an IBKR gateway whose session expired answers (no IBKR server can exist here)."""

    def status(self) -> BrokerStatus:
        return BrokerStatus(
            connected=True,
            authenticated=False,
            account_id="DU0000",
            paper=True,
            adapter="ibkr",
            message="session expired; log in again in IB Gateway",
        )


@pytest.mark.django_db(transaction=True)
def test_a_lost_broker_session_aborts_the_execution(execution, monkeypatch):
    monkeypatch.setattr(engine, "get_adapter", LoggedOutGateway)

    results = run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.FAILED
    assert "not authenticated" in execution.error and "session expired" in execution.error
    assert results["symbols_processed"] == 0
    assert not StepRun.objects.filter(execution=execution).exists()
    assert execution.completed_at is not None
