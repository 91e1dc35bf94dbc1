"""validate_risk and place_order on the simulated exchange: the market reference prices the order.

Whatever prices and levels a model writes, an order that goes out has its entry limit within the
allowance of the market reference and its exits on the right sides of it; a stale reference is
asked again and a market that moved beyond the tolerance since the decision refuses the order; a
fixed quantity passes the same caps as a risk-sized one. The clock is pinned to a weekday in
market hours (the simulated market trades all weekday), so the market stands still.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from broker.instruments import qualify_symbol
from broker.marketdata import market_reference
from broker.models import Order, RiskLimits, SimulatedOrder
from broker.risk import BASIS_POINT
from execution.models import Decision, WorkflowExecution
from execution.steps.base import StepSkipped, SymbolContext
from execution.steps.orders import place_order
from execution.steps.risk import validate_risk
from tests.execution.conftest import make_strategy, workflow_from_template
from workflows.steps import STEP_TYPES

MARKET_HOURS = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)  # a Wednesday
RISK_STEP = {"id": "validate_risk", "type": "validate_risk", "config": STEP_TYPES["validate_risk"].defaults}
ORDER_STEP = {"id": "place_order", "type": "place_order", "config": {"order_type": "LMT", "tif": "DAY"}}
TOLERANCE = Decimal(str(STEP_TYPES["validate_risk"].defaults["max_price_deviation"]))


@pytest.fixture
def market_stands_still():
    with time_machine.travel(MARKET_HOURS, tick=False):
        yield


@pytest.fixture
def execution(alice, market_stands_still):
    workflow = workflow_from_template(alice, "single_timeframe")
    strategy = make_strategy(alice, workflow, symbols=("AAPL",))
    return WorkflowExecution.objects.create(
        owner=alice,
        workflow=workflow,
        version=workflow.current_version,
        strategy=strategy,
        symbols=["AAPL"],
        status=WorkflowExecution.Status.RUNNING,
    )


@pytest.fixture
def market(execution):
    return market_reference(qualify_symbol("AAPL"))


def decide(execution, reference, *, side="buy", price, target, stop, made_at=None) -> Decision:
    decision = Decision(
        execution=execution,
        strategy=execution.strategy,
        instrument=qualify_symbol("AAPL"),
        step_id="decide",
        type=side,
        current_price=price,
        target_price=target,
        stop_loss=stop,
    )
    decision.set_market_reference(reference)
    if made_at is not None:
        decision.reference_time = made_at
    decision.save()
    return decision


def run_step(step: dict, decision: Decision, config: dict | None = None) -> dict:
    ctx = SymbolContext(execution=decision.execution, symbol="AAPL", params={}, steps=[RISK_STEP, ORDER_STEP])
    ctx.decision = decision
    with ctx.running(step, 0):
        function = validate_risk if step is RISK_STEP else place_order
        return function(config if config is not None else step["config"], ctx)


def validate_and_place(decision: Decision, order_config: dict | None = None) -> Order | None:
    """validate_risk, then place_order; the entry order placed, or None when either refused."""
    run_step(RISK_STEP, decision)
    decision.refresh_from_db()
    try:
        run_step(ORDER_STEP, decision, order_config)
    except StepSkipped:
        return None
    return Order.objects.get(decision=decision, parent__isnull=True)


def assert_priced_from_the_market(entry: Order, side: str, market: Decimal, allowance_bps: Decimal) -> None:
    allowance = market * allowance_bps * BASIS_POINT
    if side == "buy":
        assert market - Decimal("0.01") < entry.limit_price <= market + allowance
    else:
        assert market - allowance <= entry.limit_price < market + Decimal("0.01")
    legs = {leg.order_type: leg for leg in entry.children.all()}
    stop, target = legs["STP"].stop_price, legs["LMT"].limit_price
    assert stop < market < target if side == "buy" else target < market < stop
    at_exchange = SimulatedOrder.objects.get(order_ref=entry.idempotency_key, parent__isnull=True)
    assert at_exchange.limit_price == entry.limit_price
    assert {leg.order_type: leg.stop_price or leg.limit_price for leg in at_exchange.children.all()} == {
        "STP": stop,
        "LMT": target,
    }


def ratios(low_bps: int, high_bps: int):
    """Multiples of the market price between 1 + low_bps and 1 + high_bps basis points."""
    return st.integers(low_bps, high_bps).map(lambda bps: 1 + Decimal(bps) * BASIS_POINT)


# The model's price as a multiple of the market: mostly near it (the tolerance is 1 %), sometimes far,
# 100× off or 0. Its reward and risk in basis points from the market: negative ones put the target or
# the stop on the wrong side.
model_prices = st.one_of(
    ratios(-100, 100),
    ratios(-100, 100),
    ratios(-300, 300),
    ratios(-5000, 5000),
    st.sampled_from([Decimal(100), Decimal("0.01"), 0]),
)
rewards = st.integers(-500, 2500)
risks = st.integers(-200, 1000)


@pytest.mark.django_db
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    side=st.sampled_from(["buy", "sell"]),
    price_factor=model_prices,
    reward_bps=rewards,
    risk_bps=risks,
    allowance_bps=st.decimals(min_value=Decimal("0"), max_value=Decimal("100"), places=1),
)
def test_every_placed_entry_is_within_the_allowance_and_its_exits_on_the_right_sides(
    execution, market, side, price_factor, reward_bps, risk_bps, allowance_bps
):
    """Random model prices (some 100× off or 0) and levels around the market: whatever goes out is priced by it."""
    price = (market.price * price_factor).quantize(Decimal("0.01"))
    direction = 1 if side == "buy" else -1
    decision = decide(
        execution,
        market,
        side=side,
        price=price,
        target=(market.price * (1 + direction * reward_bps * BASIS_POINT)).quantize(Decimal("0.01")),
        stop=(market.price * (1 - direction * risk_bps * BASIS_POINT)).quantize(Decimal("0.01")),
    )

    entry = validate_and_place(decision, {**ORDER_STEP["config"], "limit_allowance_bps": float(allowance_bps)})

    decision.refresh_from_db()
    event("refused" if entry is None else "placed")
    if entry is None:
        assert decision.status == Decision.Status.REJECTED and decision.rejection_reasons
        assert not Order.objects.filter(decision=decision).exists()
        return
    assert abs(price - market.price) <= market.price * TOLERANCE
    assert_priced_from_the_market(entry, side, market.price, allowance_bps)


@pytest.mark.django_db
def test_a_stale_reference_is_asked_again_and_a_market_that_moved_too_far_refuses_the_order(execution, market):
    """The decision was made 5 minutes ago with the market 3 % higher than it is now."""
    then = market.price * Decimal("1.03")
    decision = decide(
        execution,
        market,
        price=then,
        target=then * Decimal("1.10"),
        stop=market.price * Decimal("0.95"),
        made_at=MARKET_HOURS - timedelta(minutes=5),
    )
    Decision.objects.filter(pk=decision.pk).update(reference_price=then)
    decision.refresh_from_db()

    entry = validate_and_place(decision)

    assert entry is None and not SimulatedOrder.objects.exists()
    decision.refresh_from_db()
    assert decision.status == Decision.Status.REJECTED
    [reason] = decision.rejection_reasons
    assert "The market moved -2.9 % since the decision" in reason
    assert f"{then.quantize(Decimal('0.01'))}" in reason and f"{market.price}" in reason


@pytest.mark.django_db
def test_a_stale_reference_within_the_tolerance_prices_the_order_at_the_market_now(execution, market):
    then = market.price * Decimal("1.004")
    decision = decide(
        execution,
        market,
        price=then,
        target=then * Decimal("1.10"),
        stop=then * Decimal("0.95"),
        made_at=MARKET_HOURS - timedelta(minutes=5),
    )
    Decision.objects.filter(pk=decision.pk).update(reference_price=then)
    decision.refresh_from_db()

    entry = validate_and_place(decision)

    assert entry is not None
    assert_priced_from_the_market(entry, "buy", market.price, Decimal("5"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "limits, reason",
    [
        ({"max_position_pct": Decimal("0.02")}, "above the position cap of 2%"),
        ({"max_exposure_pct": Decimal("0.01")}, "Exposure after the order would be"),
        ({"max_open_positions": 0}, "0 positions are open; the maximum is 0"),
    ],
)
def test_a_fixed_quantity_passes_the_same_caps_as_a_risk_sized_one(execution, market, limits, reason):
    RiskLimits.objects.update_or_create(pk=1, defaults=limits)
    decision = decide(
        execution,
        market,
        price=market.price,
        target=market.price * Decimal("1.10"),
        stop=market.price * Decimal("0.95"),
    )
    Decision.objects.filter(pk=decision.pk).update(status=Decision.Status.APPROVED, quantity=1, risk={})
    decision.refresh_from_db()
    quantity = int(Decimal("5000") / market.price) + 1  # 5 % of the 100 000 equity, whatever the price

    with pytest.raises(StepSkipped) as refused:
        run_step(ORDER_STEP, decision, {**ORDER_STEP["config"], "quantity": quantity})

    assert f"the fixed quantity {quantity} exceeds the risk caps" in refused.value.reason
    assert reason in refused.value.reason
    assert not Order.objects.exists() and not SimulatedOrder.objects.exists()


@pytest.mark.django_db
def test_a_fixed_quantity_within_the_caps_is_ordered(execution, market):
    decision = decide(
        execution,
        market,
        price=market.price,
        target=market.price * Decimal("1.10"),
        stop=market.price * Decimal("0.95"),
    )
    run_step(RISK_STEP, decision)
    decision.refresh_from_db()

    run_step(ORDER_STEP, decision, {**ORDER_STEP["config"], "quantity": 2})

    assert Order.objects.get(decision=decision, parent__isnull=True).quantity == 2


@pytest.mark.django_db
def test_the_risk_staff_caps_tighten_the_price_tolerance(execution, market):
    RiskLimits.objects.update_or_create(pk=1, defaults={"max_price_deviation": Decimal("0.001")})
    price = (market.price * Decimal("1.005")).quantize(Decimal("0.01"))
    decision = decide(
        execution, market, price=price, target=price * Decimal("1.10"), stop=market.price * Decimal("0.95")
    )

    assert validate_and_place(decision) is None

    decision.refresh_from_db()
    assert (
        "% above the market" in decision.rejection_reasons[0] and "(tolerance 0.1 %)" in decision.rejection_reasons[0]
    )
