"""A worker killed while submitting an order (holding the submit lock, order already at the broker).

The redelivered task submits the same order again: it must wait out the dead worker's lock and adopt
the order the broker already has, not give up and record it as rejected while the broker works it.
Here the dead worker is played by the test: it saved the Order, placed it at the simulated exchange
and left the Redis lock behind with 35 s still to run (longer than the 30 s a submission used to wait).
"""

from decimal import Decimal

import pytest

from broker.adapters.base import OrderRequest
from broker.coordination import redis_client, redis_key
from broker.instruments import qualify_symbol
from broker.models import Order, SimulatedOrder
from broker.orders import order_submit
from broker.simulation import SimulatedExchange

pytestmark = pytest.mark.processes

LOCK_LEFT_SECONDS = 35


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_order_whose_submitter_died_holding_the_lock_is_adopted_not_rejected(alice):
    instrument = qualify_symbol("AAPL")
    price = SimulatedExchange().price("AAPL")
    order = Order.objects.create(
        owner=alice, instrument=instrument, side="BUY", quantity=Decimal("1"), order_type="LMT", limit_price=price,
        tif="DAY", idempotency_key="tw-killed-submitter",
    )  # fmt: skip
    placed = SimulatedExchange().place_order(
        OrderRequest(conid=instrument.conid, symbol="AAPL", side="BUY", quantity=Decimal("1"), order_type="LMT",
                     limit_price=price, tif="DAY", order_ref=order.idempotency_key)
    )  # fmt: skip
    redis_client().set(redis_key(f"lock:order-submit:{order.idempotency_key}"), "dead-worker", ex=LOCK_LEFT_SECONDS)

    resumed = order_submit(Order.objects.get(pk=order.pk))

    assert resumed.broker_order_id == placed.broker_order_id
    assert resumed.status not in (Order.Status.REJECTED, Order.Status.PENDING), resumed.status_message
    assert SimulatedOrder.objects.filter(order_ref=order.idempotency_key, parent=None).count() == 1
