"""order_submit never places twice for one idempotency key."""

import pytest

from broker.adapters.base import OrderRequest, TransientBrokerError
from broker.adapters.simulated import SimulatedAdapter
from broker.models import Order, Position, RiskLimits
from broker.orders import order_refresh, order_submit
from tests.broker.portfolio.conftest import let_market_trade, new_order


def test_it_saves_the_order_before_the_broker_hears_of_it_and_records_the_broker_id(alice, adapter, sim_aapl):
    order = order_submit(new_order(alice, sim_aapl), adapter=adapter)

    assert order.pk is not None
    assert order.status == Order.Status.SUBMITTED and order.broker_order_id
    assert order.paper is True
    (at_broker,) = adapter.find_orders_by_ref(order.idempotency_key)
    assert at_broker.broker_order_id == order.broker_order_id


def test_it_adopts_the_order_the_broker_already_has_for_the_key_instead_of_placing_again(alice, adapter, sim_aapl):
    order = new_order(alice, sim_aapl, quantity=3)
    placed_before_crash = adapter.place_order(
        OrderRequest(
            conid=sim_aapl.conid,
            symbol="AAPL",
            side="BUY",
            quantity=order.quantity,
            order_type="MKT",
            limit_price=None,
            tif="GTC",
            order_ref=order.idempotency_key,
        )
    )

    order = order_submit(order, adapter=adapter)

    assert order.broker_order_id == placed_before_crash.broker_order_id
    assert len(adapter.find_orders_by_ref(order.idempotency_key)) == 1


def test_submitting_the_same_key_again_returns_the_first_order_and_places_nothing(alice, adapter, sim_aapl):
    first = order_submit(new_order(alice, sim_aapl), adapter=adapter)
    again = order_submit(first, adapter=adapter)
    retried = new_order(alice, sim_aapl)
    retried.idempotency_key = first.idempotency_key
    retried = order_submit(retried, adapter=adapter)

    assert again.pk == retried.pk == first.pk
    assert Order.objects.filter(idempotency_key=first.idempotency_key).count() == 1
    assert len(adapter.find_orders_by_ref(first.idempotency_key)) == 1


def test_refreshing_books_the_fills_into_the_position(alice, adapter, sim_aapl):
    order = order_submit(new_order(alice, sim_aapl, quantity=5), adapter=adapter)
    let_market_trade(adapter)

    order = order_refresh(order, adapter=adapter)

    assert order.status == Order.Status.FILLED and order.filled_quantity == 5
    assert order.fills.count() >= 1 and order.commission > 0
    position = Position.objects.get(owner=alice, instrument=sim_aapl)
    assert position.quantity == 5 and position.average_cost == order.avg_fill_price


class AnswerLostAdapter(SimulatedAdapter):
    """The broker takes the order, but its answer is lost on the way back (a gateway timeout)."""

    def place_order(self, req):
        super().place_order(req)
        raise TransientBrokerError("Timed out waiting for the order acknowledgement")


def test_a_retry_after_a_lost_answer_adopts_the_order_the_broker_took(alice, adapter, sim_aapl):
    order = new_order(alice, sim_aapl)

    with pytest.raises(TransientBrokerError):
        order_submit(order, adapter=AnswerLostAdapter())
    saved = Order.objects.get(idempotency_key=order.idempotency_key)
    assert saved.status == Order.Status.NEEDS_RECONCILIATION and "outcome unknown" in saved.status_message

    retried = order_submit(saved, adapter=adapter)

    assert retried.status == Order.Status.SUBMITTED and retried.broker_order_id
    assert len(adapter.find_orders_by_ref(order.idempotency_key)) == 1


def test_an_order_the_broker_already_took_is_adopted_even_after_the_kill_switch(alice, sim_aapl):
    order = new_order(alice, sim_aapl)
    with pytest.raises(TransientBrokerError):
        order_submit(order, adapter=AnswerLostAdapter())
    RiskLimits.objects.update_or_create(pk=1, defaults={"kill_switch": True})

    adopted = order_submit(Order.objects.get(idempotency_key=order.idempotency_key), adapter=SimulatedAdapter())

    assert adopted.status == Order.Status.SUBMITTED and adopted.broker_order_id
