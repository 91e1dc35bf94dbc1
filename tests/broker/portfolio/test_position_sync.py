"""Sync with the broker flags differences for review instead of overwriting them."""

from broker.models import Position
from broker.orders import order_refresh, order_submit
from broker.portfolio import apply_fill, sync_positions
from tests.broker.portfolio.conftest import let_market_trade, make_fill, make_order, new_order


def test_a_booked_position_the_broker_does_not_hold_is_flagged_not_overwritten(alice, adapter, sim_aapl):
    apply_fill(make_order(alice, sim_aapl, "BUY", 10), make_fill(10, "150.00"))

    flagged = sync_positions(alice, adapter)

    position = Position.objects.get(owner=alice, instrument=sim_aapl)
    assert flagged == [position]
    assert position.needs_review and position.quantity == 10
    assert "Broker holds 0" in position.review_note and "booked 10" in position.review_note


def test_a_broker_position_nobody_booked_gets_a_flagged_row(alice, adapter, sim_aapl):
    order_submit(new_order(alice, sim_aapl, quantity=4), adapter=adapter)
    let_market_trade(adapter)
    Position.objects.all().delete()  # the broker filled it; tradingweb never booked it

    (flagged,) = sync_positions(alice, adapter)

    assert flagged.instrument == sim_aapl and flagged.quantity == 0 and flagged.needs_review
    assert "Broker holds 4" in flagged.review_note


def test_positions_that_agree_with_the_broker_are_not_flagged(alice, adapter, sim_aapl):
    order = order_submit(new_order(alice, sim_aapl, quantity=4), adapter=adapter)
    let_market_trade(adapter)
    order_refresh(order, adapter=adapter)

    assert sync_positions(alice, adapter) == []
    assert not Position.objects.get(owner=alice, instrument=sim_aapl).needs_review
