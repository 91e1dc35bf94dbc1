"""Fixtures for the approval tests: executions parked awaiting approval (the real worker resumes them).

The offline analyst's call depends on the day's simulated bars, so these tests fix the decision
the decide (or agent_team) step makes: that step reuses a decision already recorded for its
execution and step (as it does on a redelivered task), and everything else runs for real —
bars, charts, analysis, validate_risk with broker.risk, the order on the simulated broker.
"""

import time
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from broker.adapters import get_adapter
from broker.instruments import qualify_symbol
from broker.marketdata import QUOTE_LAST
from broker.models import Order
from execution.models import Decision, WorkflowExecution
from execution.runner import run_execution
from execution.services import execution_create, execution_enqueue
from tests.execution.conftest import make_strategy, workflow_from_template

DECISION_STEPS = {"single_timeframe": "decide", "autogen_multi_agent": "agent_team"}


@pytest.fixture(autouse=True)
def approval_settings(settings):
    """Small charts; an entry tolerance the simulated price's drift within one test cannot reach."""
    settings.CHART_WIDTH = 480
    settings.CHART_HEIGHT = 320
    settings.APPROVAL_MAX_PRICE_MOVE_PCT = 5.0
    settings.APPROVAL_TIMEOUT_SECONDS = 300
    return settings


def live_price(symbol: str) -> Decimal:
    instrument = qualify_symbol(symbol)
    return get_adapter().quote(instrument.conid, instrument.symbol).last


def record_buy(execution, symbol: str, step_id: str, entry: Decimal | None = None) -> Decision:
    """The BUY the decision step will make: entry at the broker's price, target +10 %, stop -5 % (R = 2).

    The market reference is the entry, as if the market had been there when the decision was made
    (an `entry` away from today's price is a market that moved since).
    """
    entry = entry or live_price(symbol)
    return Decision.objects.create(
        reference_price=entry,
        reference_source=QUOTE_LAST,
        reference_time=timezone.now(),
        execution=execution,
        strategy=execution.strategy,
        instrument=qualify_symbol(symbol),
        step_id=step_id,
        type=Decision.Type.BUY,
        current_price=entry,
        target_price=(entry * Decimal("1.10")).quantize(Decimal("0.01")),
        stop_loss=(entry * Decimal("0.95")).quantize(Decimal("0.01")),
        confidence=Decimal("0.7"),
        analysis_text=f"{symbol} trends up above its rising averages.",
        key_factors=["uptrend", "SuperTrend up"],
    )


def new_execution(
    owner,
    *,
    symbols=("AAPL",),
    template="single_timeframe",
    human_approval=True,
    params=None,
    entry: Decimal | None = None,
    name="Approval strategy",
):
    """A pending execution whose decision step will propose a BUY for each symbol."""
    workflow = workflow_from_template(owner, template)
    strategy = make_strategy(owner, workflow, symbols=symbols, params=params, name=name)
    strategy.human_approval = human_approval
    strategy.save(update_fields=["human_approval"])
    execution = execution_create(owner=owner, strategy=strategy, params={"symbol_delay": 0})
    for symbol in symbols:
        record_buy(execution, symbol, DECISION_STEPS[template], entry)
    return execution


def park_here(owner, **options) -> WorkflowExecution:
    """An execution run in this process (no worker) until it parks awaiting approval."""
    execution = new_execution(owner, **options)
    try:
        run_execution(execution.pk)
    finally:
        connections.close_all()
    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.AWAITING_APPROVAL, (execution.status, execution.error)
    return execution


def enqueue(execution) -> WorkflowExecution:
    execution_enqueue(execution)
    return execution


def wait_until(execution_id: int, condition, what: str, timeout: float = 90) -> WorkflowExecution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = WorkflowExecution.objects.get(pk=execution_id)
        if condition(execution):
            return execution
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_id} is {execution.status} ({execution.progress}), not {what}")


def wait_for_status(execution_id: int, *statuses: str, timeout: float = 90) -> WorkflowExecution:
    return wait_until(execution_id, lambda execution: execution.status in statuses, " or ".join(statuses), timeout)


def wait_for_parked(execution_id: int, symbol: str) -> WorkflowExecution:
    """Until the execution waits for approval on `symbol` (the run may still be on an earlier one)."""

    def parked_on_symbol(execution):
        parked = (execution.progress or {}).get("parked") or {}
        return execution.status == WorkflowExecution.Status.AWAITING_APPROVAL and parked.get("symbol") == symbol

    return wait_until(execution_id, parked_on_symbol, f"awaiting approval on {symbol}")


def wait_for_end(execution_id: int) -> WorkflowExecution:
    return wait_for_status(execution_id, *WorkflowExecution.TERMINAL_STATUSES)


def entry_order(decision) -> Order | None:
    return Order.objects.filter(decision=decision, parent__isnull=True).first()
