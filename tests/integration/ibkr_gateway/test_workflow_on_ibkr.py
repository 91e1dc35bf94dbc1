"""A built-in workflow with BROKER_ADAPTER=ibkr: every broker call goes through ib_insync to the gateway simulator.

The simulator replays 2024-01-03, so the bars the workflow fetched are that day's history
(not today's, which the simulated adapter would give), and with the offline analyst AAPL is
a BUY that risk approves, KO a HOLD and MSFT (daily and weekly) a SELL.
"""

import pytest

from broker.adapters import get_adapter
from broker.models import MarketData, Order, SimulatedOrder
from broker.simulation import generate_bars
from execution.models import Decision, StepRun, WorkflowExecution
from execution.runner import run_execution
from execution.services import execution_create, execution_enqueue
from tests.execution.conftest import make_strategy, wait_for_execution, workflow_from_template


def _execution(owner, template_type: str, symbols: tuple[str, ...]) -> WorkflowExecution:
    strategy = make_strategy(owner, workflow_from_template(owner, template_type), symbols=symbols)
    return execution_create(owner=owner, strategy=strategy, params={"symbol_delay": 0})


def _assert_bars_came_from_the_simulator(gateway, symbol: str, timeframes: list[tuple[str, str]]):
    for period, bar in timeframes:
        cached = MarketData.objects.get(instrument__symbol=symbol, period=period, bar=bar)
        assert cached.data == generate_bars(symbol, period, bar, end=gateway.clock.now())
        assert cached.data[-1]["t"] < "2024-01-03"


def _assert_ordered_once_at_the_gateway(gateway, execution, symbol: str) -> Order:
    decision = Decision.objects.get(execution=execution, instrument__symbol=symbol)
    assert decision.status == Decision.Status.EXECUTED
    order = Order.objects.get(decision=decision, parent__isnull=True)
    at_exchange = SimulatedOrder.objects.filter(
        account__account_id=gateway.account_id, order_ref=order.idempotency_key, parent__isnull=True
    )
    assert at_exchange.count() == 1
    assert (at_exchange[0].symbol, at_exchange[0].side, at_exchange[0].quantity) == (
        symbol,
        decision.type.upper(),
        decision.quantity,
    )
    [seen] = get_adapter().find_orders_by_ref(order.idempotency_key)
    assert seen.broker_order_id == order.broker_order_id
    return order


@pytest.mark.django_db(transaction=True)
def test_a_template_run_by_the_engine_trades_through_the_ibkr_adapter(alice, ibkr_broker):
    gateway = ibkr_broker
    execution = _execution(alice, "single_timeframe", ("AAPL", "KO"))
    equity_before = get_adapter().account_summary().equity

    results = run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.COMPLETED, (execution.error, results)
    assert results["errors"] == [] and results["orders_placed"] == 1
    for symbol in ("AAPL", "KO"):
        _assert_bars_came_from_the_simulator(gateway, symbol, [("1y", "1d")])
    buy = Decision.objects.get(execution=execution, instrument__symbol="AAPL")
    assert buy.type == Decision.Type.BUY and buy.r_coefficient >= 1
    assert buy.risk["equity"] == str(equity_before), "sized on the gateway's equity before the order filled"
    order = _assert_ordered_once_at_the_gateway(gateway, execution, "AAPL")
    assert order.paper and order.status in ("submitted", "partially_filled", "filled")
    hold = Decision.objects.get(execution=execution, instrument__symbol="KO")
    assert hold.type == Decision.Type.HOLD
    assert StepRun.objects.get(execution=execution, symbol="KO", step_id="place_order").status == "skipped"
    assert not SimulatedOrder.objects.filter(account__account_id=gateway.account_id, symbol="KO").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_a_template_run_on_the_celery_worker_trades_through_the_ibkr_adapter(alice, ibkr_broker):
    gateway = ibkr_broker
    execution = _execution(alice, "two_indicator", ("MSFT",))

    execution_enqueue(execution)
    execution = wait_for_execution(execution.pk, timeout=60)

    assert execution.status == WorkflowExecution.Status.COMPLETED, (execution.error, execution.results)
    _assert_bars_came_from_the_simulator(gateway, "MSFT", [("1y", "1d"), ("1y", "1w")])
    assert Decision.objects.get(execution=execution).type == Decision.Type.SELL
    order = _assert_ordered_once_at_the_gateway(gateway, execution, "MSFT")
    assert execution.results["orders_placed"] == 1
    assert StepRun.objects.get(execution=execution, step_id="place_order").output["order_id"] == order.pk
