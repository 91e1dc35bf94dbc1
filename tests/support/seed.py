"""A trader's realistic history, written straight to the models: what the pages list.

Also the fixtures `alice_history` and `bob_history` (registered as a plugin in tests/conftest.py).
"""

import itertools
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from broker.models import Instrument, Order, Position, Trade
from execution.models import Decision, Schedule, WorkflowExecution
from workflows.models import Strategy, Workflow, WorkflowVersion

_conids = itertools.count(900_001)

STEPS = [
    {"id": "fetch", "type": "fetch_data", "name": "Daily bars", "config": {"period": "1y", "bar": "1d"}},
    {"id": "decide", "type": "decide", "name": "Decide", "config": {}},
]


@dataclass
class History:
    workflow: Workflow
    strategy: Strategy
    execution: WorkflowExecution
    decision: Decision
    order: Order
    position: Position
    trade: Trade
    schedule: Schedule


def instrument(symbol: str, name: str = "") -> Instrument:
    existing = Instrument.objects.filter(symbol=symbol).first()
    return existing or Instrument.objects.create(symbol=symbol, conid=next(_conids), name=name)


def trading_history(user, *, label: str, symbol: str) -> History:
    """One workflow, strategy, execution, decision with its order, open position, closed trade and schedule."""
    now = timezone.now()
    stock = instrument(symbol)
    workflow = Workflow.objects.create(
        owner=user, name=f"{label} workflow", type=Workflow.Type.TWO_INDICATOR, status=Workflow.Status.ACTIVE
    )
    workflow.current_version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=STEPS, created_by=user)
    workflow.save()
    strategy = Strategy.objects.create(owner=user, name=f"{label} strategy", workflow=workflow)
    strategy.instruments.add(stock)
    execution = WorkflowExecution.objects.create(
        owner=user,
        workflow=workflow,
        version=workflow.current_version,
        strategy=strategy,
        status=WorkflowExecution.Status.COMPLETED,
        symbols=[symbol],
        results={"symbols_processed": 1, "decisions_made": 1, "orders_placed": 1, "errors": 0},
        started_at=now - timedelta(minutes=5),
        completed_at=now - timedelta(minutes=4),
    )
    decision = Decision.objects.create(
        execution=execution,
        strategy=strategy,
        instrument=stock,
        type=Decision.Type.BUY,
        current_price=Decimal("100.00"),
        target_price=Decimal("112.00"),
        stop_loss=Decimal("95.00"),
        confidence=Decimal("0.72"),
        status=Decision.Status.EXECUTED,
    )
    order = Order.objects.create(
        owner=user,
        decision=decision,
        execution=execution,
        strategy=strategy,
        instrument=stock,
        side=Order.Side.BUY,
        quantity=Decimal("20"),
        limit_price=Decimal("100.00"),
        status=Order.Status.FILLED,
        idempotency_key=f"{label}-{symbol}-{execution.pk}",
        filled_quantity=Decimal("20"),
        avg_fill_price=Decimal("99.95"),
    )
    position = Position.objects.create(
        owner=user,
        instrument=stock,
        strategy=strategy,
        quantity=Decimal("20"),
        average_cost=Decimal("99.95"),
        current_price=Decimal("104.10"),
        unrealized_pnl=Decimal("83.00"),
        stop_price=Decimal("95.00"),
    )
    trade = Trade.objects.create(
        owner=user,
        instrument=stock,
        strategy=strategy,
        direction=Trade.Direction.LONG,
        quantity=Decimal("10"),
        entry_price=Decimal("90.00"),
        entry_at=now - timedelta(days=3),
        exit_price=Decimal("96.50"),
        exit_at=now - timedelta(hours=2),
        realized_pnl=Decimal("65.00"),
    )
    schedule = Schedule.objects.create(
        owner=user, workflow=workflow, strategy=strategy, cron_expression="30 14 * * 1-5", description=f"{label} daily"
    )
    return History(workflow, strategy, execution, decision, order, position, trade, schedule)


def busy_trader(user) -> list[History]:
    """Several strategies' worth of activity in mixed states: what a dashboard looks like mid-session."""
    histories = [
        trading_history(user, label="Momentum", symbol="AAPL"),
        trading_history(user, label="Mean reversion", symbol="MSFT"),
        trading_history(user, label="AutoGen team", symbol="NVDA"),
    ]
    momentum, reversion, team = histories
    reversion.position.current_price = Decimal("96.40")
    reversion.position.unrealized_pnl = Decimal("-71.00")
    reversion.position.save()
    reversion.trade.exit_price = Decimal("87.20")
    reversion.trade.realized_pnl = Decimal("-28.00")
    reversion.trade.save()
    WorkflowExecution.objects.create(
        owner=user,
        workflow=team.workflow,
        version=team.workflow.current_version,
        strategy=team.strategy,
        status=WorkflowExecution.Status.RUNNING,
        priority=WorkflowExecution.Priority.HIGH,
        symbols=["NVDA", "AMD", "TSM", "AVGO"],
        progress={"completed_symbols": ["NVDA"]},
        task_id="6f1c2e0a-demo",
    )
    failed = WorkflowExecution.objects.create(
        owner=user,
        workflow=reversion.workflow,
        version=reversion.workflow.current_version,
        strategy=reversion.strategy,
        status=WorkflowExecution.Status.FAILED,
        symbols=["MSFT"],
        error="fetch_data MSFT: broker timed out after 10 s",
    )
    Decision.objects.create(
        execution=failed,
        strategy=reversion.strategy,
        instrument=instrument("MSFT"),
        type=Decision.Type.SELL,
        current_price=Decimal("96.40"),
        target_price=Decimal("94.00"),
        stop_loss=Decimal("97.50"),
        confidence=Decimal("0.55"),
        status=Decision.Status.REJECTED,
        rejection_reasons=["R coefficient 0.8 is below the minimum 1.0"],
    )
    Decision.objects.create(
        execution=momentum.execution,
        strategy=momentum.strategy,
        instrument=instrument("AAPL"),
        type=Decision.Type.HOLD,
        current_price=Decimal("104.10"),
        confidence=Decimal("0.61"),
        status=Decision.Status.APPROVED,
    )
    return histories


@pytest.fixture
def alice_history(alice):
    return trading_history(alice, label="Alice", symbol="AAPL")


@pytest.fixture
def bob_history(bob):
    return trading_history(bob, label="Bob", symbol="MSFT")
