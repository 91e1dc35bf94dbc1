"""Seeded executions, decisions, orders and trades on given days."""

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from broker.models import Instrument, Order, Trade
from execution.models import Decision, WorkflowExecution
from workflows.models import Strategy, Workflow

_keys = itertools.count(1)


@pytest.fixture
def aapl(db):
    return Instrument.objects.create(symbol="AAPL", conid=265598)


@pytest.fixture
def workflow(alice):
    return Workflow.objects.create(owner=alice, name="Daily trend")


@pytest.fixture
def strategy(alice, workflow):
    return Strategy.objects.create(owner=alice, name="Trend on tech", workflow=workflow)


def seed_execution(
    workflow,
    *,
    day,
    status="completed",
    seconds=60,
    strategy=None,
    decision=None,
    r=None,
    order=False,
    trade_pnl=None,
    instrument=None,
):
    """One run created on `day` (a date) at noon UTC, with an optional decision, order and closed trade."""
    created = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    execution = WorkflowExecution.objects.create(
        owner=workflow.owner, workflow=workflow, strategy=strategy, status=status
    )
    finished = status in WorkflowExecution.TERMINAL_STATUSES
    WorkflowExecution.objects.filter(pk=execution.pk).update(
        created_at=created,
        started_at=created,
        completed_at=created + timedelta(seconds=seconds) if finished else None,
    )
    if decision:
        made = Decision.objects.create(
            execution=execution,
            strategy=strategy,
            instrument=instrument,
            type=decision,
            r_coefficient=None if r is None else Decimal(r),
            status="executed" if order else "approved",
        )
        if order:
            Order.objects.create(
                owner=workflow.owner,
                decision=made,
                execution=execution,
                instrument=instrument,
                side="BUY" if decision == "buy" else "SELL",
                quantity=Decimal("1"),
                status="filled",
                idempotency_key=f"seed-{next(_keys)}",
            )
        if trade_pnl is not None:
            Trade.objects.create(
                owner=workflow.owner,
                instrument=instrument,
                decision=made,
                direction="long",
                quantity=Decimal("1"),
                entry_price=Decimal("100"),
                entry_at=created,
                exit_price=Decimal("100") + Decimal(trade_pnl),
                exit_at=created + timedelta(days=1),
                realized_pnl=Decimal(trade_pnl),
            )
    return execution
