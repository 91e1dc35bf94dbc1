"""Cancelling works on open orders and is a conflict on finished ones."""

import pytest

from broker.models import Order
from broker.orders import OrderConflict, order_cancel, order_submit, poll_open_orders
from tests.broker.portfolio.conftest import let_market_trade, new_order


def resting_limit(owner, instrument, adapter):
    """A buy limit far below the market: it rests at the broker until cancelled."""
    return order_submit(new_order(owner, instrument, order_type="LMT", price="0.01"), adapter=adapter)


def test_it_cancels_an_open_order_at_the_broker(alice, adapter, sim_aapl):
    order = resting_limit(alice, sim_aapl, adapter)

    order = order_cancel(order, adapter=adapter)

    assert order.status == Order.Status.CANCELLED
    assert adapter.order_status(order.broker_order_id).status == "cancelled"


def test_cancelling_a_cancelled_order_is_a_conflict(alice, adapter, sim_aapl):
    order = order_cancel(resting_limit(alice, sim_aapl, adapter), adapter=adapter)

    with pytest.raises(OrderConflict, match="already cancelled") as conflict:
        order_cancel(order, adapter=adapter)
    assert conflict.value.http_status == 409


def test_cancelling_an_order_the_broker_has_filled_is_a_conflict_and_books_the_fill(alice, adapter, sim_aapl):
    order = order_submit(new_order(alice, sim_aapl, quantity=2), adapter=adapter)
    let_market_trade(adapter)  # filled at the broker; not yet known here

    with pytest.raises(OrderConflict, match="already filled"):
        order_cancel(order, adapter=adapter)

    order.refresh_from_db()
    assert order.status == Order.Status.FILLED and order.fills.exists()


def test_polling_refreshes_every_open_order(alice, bob, adapter, sim_aapl):
    filled = order_submit(new_order(alice, sim_aapl, quantity=2), adapter=adapter)
    resting = resting_limit(bob, sim_aapl, adapter)
    let_market_trade(adapter)

    assert poll_open_orders(adapter=adapter) == {"refreshed": 2, "failed": 0}

    filled.refresh_from_db()
    resting.refresh_from_db()
    assert filled.status == Order.Status.FILLED
    assert resting.status == Order.Status.SUBMITTED
