"""place_order never places a decision's order twice, and a dry run places nothing."""

from decimal import Decimal

import pytest
from django.utils import timezone

from agents.models import ApprovalRequest
from broker.adapters import OrderRequest, get_adapter
from broker.instruments import qualify_symbol
from broker.models import Order
from execution.models import Decision, WorkflowExecution
from execution.steps.base import StepSkipped, SymbolContext
from execution.steps.orders import idempotency_key, place_order
from tests.execution.conftest import make_strategy, workflow_from_template

STEP = {
    "id": "place_order",
    "type": "place_order",
    "name": "Place order",
    "config": {"order_type": "LMT", "tif": "DAY"},
}


@pytest.fixture
def approved_decision(alice):
    workflow = workflow_from_template(alice, "single_timeframe")
    strategy = make_strategy(alice, workflow, symbols=("AAPL",))
    execution = WorkflowExecution.objects.create(
        owner=alice,
        workflow=workflow,
        version=workflow.current_version,
        strategy=strategy,
        symbols=["AAPL"],
        status=WorkflowExecution.Status.RUNNING,
    )
    instrument = qualify_symbol("AAPL")
    price = get_adapter().quote(instrument.conid, instrument.symbol).last
    return Decision.objects.create(
        execution=execution,
        strategy=strategy,
        instrument=instrument,
        step_id="decide",
        type=Decision.Type.BUY,
        current_price=price,
        target_price=price * Decimal("1.10"),
        stop_loss=price * Decimal("0.95"),
        quantity=Decimal("3"),
        status=Decision.Status.APPROVED,
    )


def _run_place_order(decision, config=None):
    ctx = SymbolContext(execution=decision.execution, symbol="AAPL", params={}, steps=[STEP])
    ctx.decision = decision
    with ctx.running(STEP, 0):
        return place_order(config or STEP["config"], ctx)


def test_running_place_order_twice_places_one_order(approved_decision):
    first = _run_place_order(approved_decision)
    second = _run_place_order(Decision.objects.get(pk=approved_decision.pk))
    key = idempotency_key(approved_decision.execution_id, "place_order", approved_decision.pk)
    assert first["order_id"] == second["order_id"]
    assert first["idempotency_key"] == key
    assert Order.objects.filter(idempotency_key=key).count() == 1
    assert len(get_adapter().find_orders_by_ref(key)) == 1
    order = Order.objects.get(idempotency_key=key)
    assert order.quantity == 3 and order.side == "BUY" and order.decision == approved_decision
    assert Decision.objects.get(pk=approved_decision.pk).status == Decision.Status.EXECUTED


def test_it_adopts_an_order_the_broker_took_when_the_answer_was_lost(approved_decision):
    key = idempotency_key(approved_decision.execution_id, "place_order", approved_decision.pk)
    instrument = approved_decision.instrument
    # The first attempt reached the broker, then the worker died before recording the answer.
    Order.objects.create(
        owner=approved_decision.execution.owner,
        decision=approved_decision,
        execution=approved_decision.execution,
        instrument=instrument,
        side="BUY",
        quantity=3,
        order_type="LMT",
        limit_price=approved_decision.current_price,
        idempotency_key=key,
        status=Order.Status.NEEDS_RECONCILIATION,
    )
    taken = get_adapter().place_order(
        OrderRequest(
            conid=instrument.conid,
            symbol=instrument.symbol,
            side="BUY",
            quantity=Decimal("3"),
            order_type="LMT",
            limit_price=approved_decision.current_price,
            tif="DAY",
            order_ref=key,
        )
    )

    output = _run_place_order(approved_decision)

    assert output["broker_order_id"] == taken.broker_order_id
    assert len(get_adapter().find_orders_by_ref(key)) == 1
    assert Order.objects.filter(idempotency_key=key).count() == 1


def test_a_dry_run_records_a_mock_confirmation_and_places_nothing(approved_decision):
    WorkflowExecution.objects.filter(pk=approved_decision.execution_id).update(dry_run=True)
    approved_decision.execution.refresh_from_db()
    output = _run_place_order(approved_decision)
    assert output["message"].startswith("Dry run - order not placed: BUY 3 AAPL LMT")
    assert output["confirmation"]["status"] == "dry_run"
    assert not Order.objects.exists()
    key = idempotency_key(approved_decision.execution_id, "place_order", approved_decision.pk)
    assert get_adapter().find_orders_by_ref(key) == []


def test_it_refuses_to_order_a_rejected_or_hold_decision(approved_decision):
    approved_decision.status = Decision.Status.REJECTED
    approved_decision.rejection_reasons = ["R coefficient 0.5 below 1.0"]
    with pytest.raises(StepSkipped, match="rejected by risk: R coefficient"):
        _run_place_order(approved_decision)
    approved_decision.status, approved_decision.type = Decision.Status.APPROVED, Decision.Type.HOLD
    with pytest.raises(StepSkipped, match="HOLD"):
        _run_place_order(approved_decision)
    approved_decision.status, approved_decision.type = Decision.Status.PROPOSED, Decision.Type.BUY
    with pytest.raises(StepSkipped, match="not approved by validate_risk"):
        _run_place_order(approved_decision)
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("answer", "reason", "skip_message"),
    [
        (None, "R coefficient 0.5 below 1.0", "Decision rejected by risk: R coefficient 0.5 below 1.0"),
        ("rejected", "Rejected by alice: earnings", "Decision rejected at approval: Rejected by alice: earnings"),
        ("expired", "Approval expired", "Approval expired: HOLD, no order"),
        ("expired", "The price moved 6%", "Approval expired: The price moved 6%"),
    ],
)
def test_the_skip_says_who_refused_the_decision(approved_decision, answer, reason, skip_message):
    if answer:
        ApprovalRequest.objects.create(
            execution=approved_decision.execution,
            decision=approved_decision,
            deadline=timezone.now(),
            status=answer,
            response={"reason": reason},
        )
    approved_decision.status, approved_decision.rejection_reasons = Decision.Status.REJECTED, [reason]

    with pytest.raises(StepSkipped) as skipped:
        _run_place_order(approved_decision)

    assert skipped.value.reason == skip_message
    assert not Order.objects.exists()
