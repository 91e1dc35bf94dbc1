"""Orders on the simulated exchange fill the way the minute bars say they should."""

from datetime import timedelta
from decimal import Decimal

import pytest

from broker.adapters.base import OrderRequest, PermanentBrokerError
from broker.simulation import LIQUIDITY_FRACTION, SimulatedExchange, conid_for, minute_bars

from .conftest import WEDNESDAY

pytestmark = pytest.mark.django_db
SYMBOL = "AAPL"


def order(side="BUY", quantity="10", order_type="MKT", limit=None, ref="ref-1", **extra):
    return OrderRequest(
        conid=conid_for(SYMBOL),
        symbol=SYMBOL,
        side=side,
        quantity=Decimal(quantity),
        order_type=order_type,
        limit_price=None if limit is None else Decimal(str(limit)),
        tif=extra.pop("tif", "DAY"),
        order_ref=ref,
        **extra,
    )


def next_bars(minutes=120):
    start = WEDNESDAY.replace(second=0) + timedelta(minutes=1)
    return minute_bars(SYMBOL, start, start + timedelta(minutes=minutes), seed=42)


@pytest.fixture
def exchange(rich_account):
    return SimulatedExchange(seed=42)


def test_a_market_order_fills_at_the_next_bars_open(exchange):
    placed = exchange.place_order(order(quantity="5"), now=WEDNESDAY)
    assert placed.status == "submitted" and placed.filled_quantity == 0

    state = exchange.order_status(placed.broker_order_id, now=WEDNESDAY + timedelta(minutes=3))

    assert state.status == "filled"
    assert state.filled_quantity == Decimal("5")
    assert state.fills[0].price == Decimal(str(next_bars()["o"][0]))


def test_a_limit_buy_waits_until_the_price_trades_down_to_it(exchange):
    bars = next_bars()
    limit = Decimal(str(bars["l"][5:60].min()))
    first_touch = int((bars["l"] <= float(limit)).argmax())
    placed = exchange.place_order(order(order_type="LMT", limit=limit, quantity="1"), now=WEDNESDAY)

    before = exchange.order_status(placed.broker_order_id, now=WEDNESDAY + timedelta(minutes=first_touch + 1))
    after = exchange.order_status(placed.broker_order_id, now=WEDNESDAY + timedelta(minutes=first_touch + 2))

    assert before.status == "submitted" and before.fills == []
    assert after.status == "filled"
    assert after.fills[0].price <= limit


def test_a_limit_that_is_never_reached_stays_open(exchange):
    limit = Decimal(str(next_bars()["l"].min())) * Decimal("0.5")
    placed = exchange.place_order(order(order_type="LMT", limit=limit.quantize(Decimal("0.01"))), now=WEDNESDAY)

    state = exchange.order_status(placed.broker_order_id, now=WEDNESDAY + timedelta(hours=2))

    assert state.status == "submitted"
    assert [o.broker_order_id for o in exchange.open_orders(now=WEDNESDAY + timedelta(hours=2))] == [
        placed.broker_order_id
    ]


def test_a_large_order_fills_over_several_bars(exchange):
    bars = next_bars()
    first_bar_capacity = int(Decimal(str(bars["v"][0])) * LIQUIDITY_FRACTION)
    quantity = first_bar_capacity * 4
    placed = exchange.place_order(order(quantity=str(quantity)), now=WEDNESDAY)

    after_one_bar = exchange.order_status(placed.broker_order_id, now=WEDNESDAY + timedelta(seconds=90))
    later = exchange.order_status(placed.broker_order_id, now=WEDNESDAY + timedelta(minutes=30))

    assert after_one_bar.status == "partially_filled"
    assert after_one_bar.filled_quantity == first_bar_capacity
    assert later.status == "filled"
    assert later.filled_quantity == quantity
    assert len(later.fills) > 1
    total = sum(f.quantity * f.price for f in later.fills)
    assert later.avg_fill_price == (total / quantity).quantize(Decimal("0.000001"))


def test_a_day_order_expires_at_the_end_of_the_day(exchange):
    limit = Decimal("1.00")
    placed = exchange.place_order(order(order_type="LMT", limit=limit), now=WEDNESDAY)

    state = exchange.order_status(placed.broker_order_id, now=WEDNESDAY + timedelta(days=1))

    assert state.status == "cancelled"
    assert "expired" in state.message


def test_cancel_stops_a_working_order(exchange):
    placed = exchange.place_order(order(order_type="LMT", limit="1.00", tif="GTC"), now=WEDNESDAY)

    cancelled = exchange.cancel_order(placed.broker_order_id, now=WEDNESDAY + timedelta(minutes=1))

    assert cancelled.status == "cancelled"
    with pytest.raises(PermanentBrokerError, match="cannot be cancelled"):
        exchange.cancel_order(placed.broker_order_id, now=WEDNESDAY + timedelta(minutes=2))


def test_a_bracket_arms_after_the_entry_and_one_leg_cancels_the_other(exchange):
    bars = next_bars(600)
    entry = Decimal(str(bars["o"][0]))
    take_profit = (entry * Decimal("1.002")).quantize(Decimal("0.01"))
    placed = exchange.place_order(
        order(quantity="2", take_profit=take_profit, stop_loss=(entry * Decimal("0.5")).quantize(Decimal("0.01"))),
        now=WEDNESDAY,
    )

    exchange.process_market(now=WEDNESDAY + timedelta(hours=10))

    assert exchange.order_status(placed.broker_order_id, now=WEDNESDAY + timedelta(hours=10)).status == "filled"
    assert exchange.positions(now=WEDNESDAY + timedelta(hours=10)) == []
    assert exchange.open_orders(now=WEDNESDAY + timedelta(hours=10)) == []


def test_find_orders_by_ref_sees_open_and_finished_orders(exchange):
    exchange.place_order(order(ref="decision-9"), now=WEDNESDAY)
    exchange.place_order(order(order_type="LMT", limit="1.00", ref="decision-9"), now=WEDNESDAY)
    exchange.place_order(order(ref="other"), now=WEDNESDAY)

    found = exchange.find_orders_by_ref("decision-9", now=WEDNESDAY + timedelta(minutes=5))

    assert sorted(state.status for state in found) == ["filled", "submitted"]
    assert exchange.find_orders_by_ref("never-used") == []


def test_it_rejects_a_buy_beyond_the_cash(settings):
    settings.SIMULATED_STARTING_CASH = Decimal("1000")
    state = SimulatedExchange(seed=42).place_order(order(quantity="100000"), now=WEDNESDAY)

    assert state.status == "rejected"
    assert "Insufficient cash" in state.message


def test_it_refuses_a_malformed_order_and_stores_nothing(exchange):
    with pytest.raises(PermanentBrokerError, match="limit_price"):
        exchange.place_order(order(order_type="LMT", limit=None), now=WEDNESDAY)
    assert exchange.find_orders_by_ref("ref-1") == []
