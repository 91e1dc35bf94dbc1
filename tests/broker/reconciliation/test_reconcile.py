"""reconcile() compares our positions and open orders with the broker's and flags every difference."""

from decimal import Decimal

import pytest

from broker.adapters.base import OrderRequest
from broker.models import Alert, Order, Position
from broker.reconciliation import reconcile

from .conftest import new_order

pytestmark = pytest.mark.django_db


def _request(instrument, key, quantity="3"):
    return OrderRequest(
        conid=instrument.conid,
        symbol=instrument.symbol,
        side="BUY",
        quantity=Decimal(quantity),
        order_type="MKT",
        limit_price=None,
        tif="GTC",
        order_ref=key,
    )


def test_it_flags_a_position_the_broker_does_not_hold(alice, adapter, sim_aapl):
    Position.objects.create(
        owner=alice,
        instrument=sim_aapl,
        quantity=Decimal("10"),
        average_cost=Decimal("100"),
        cost_basis=Decimal("1000"),
    )

    report = reconcile(alice, adapter)

    position = Position.objects.get(owner=alice, instrument=sim_aapl)
    assert position.needs_review and "Broker holds 0" in position.review_note
    [discrepancy] = report.discrepancies
    assert discrepancy.kind == "position" and discrepancy.position_id == position.pk
    [alert] = report.alerts
    assert (alert.kind, alert.owner, alert.data["symbol"]) == (Alert.Kind.DISCREPANCY, alice, "AAPL")


def test_it_settles_an_order_left_in_needs_reconciliation_when_the_broker_has_it(alice, adapter, sim_aapl):
    # The broker took the order but its answer was lost: our row has no broker id.
    order = new_order(alice, sim_aapl, quantity=3, status=Order.Status.NEEDS_RECONCILIATION)
    order.save()
    placed = adapter.place_order(_request(sim_aapl, order.idempotency_key))

    report = reconcile(alice, adapter)

    order.refresh_from_db()
    assert order.broker_order_id == placed.broker_order_id
    assert order.status == Order.Status.SUBMITTED
    assert report.settled_orders == [order.pk]
    assert not report.discrepancies


def test_it_flags_a_needs_reconciliation_order_the_broker_never_received(alice, adapter, sim_aapl):
    order = new_order(alice, sim_aapl, status=Order.Status.NEEDS_RECONCILIATION)
    order.save()

    report = reconcile(alice, adapter)

    order.refresh_from_db()
    assert order.status == Order.Status.NEEDS_RECONCILIATION  # a person decides; nothing is invented
    [discrepancy] = report.discrepancies
    assert discrepancy.order_id == order.pk and "never placed" in discrepancy.message
    assert Alert.objects.get(kind=Alert.Kind.DISCREPANCY, owner=alice).data["order_id"] == order.pk


def test_a_second_run_does_not_repeat_an_alert_nobody_has_reviewed(alice, adapter, sim_aapl):
    order = new_order(alice, sim_aapl, status=Order.Status.NEEDS_RECONCILIATION)
    order.save()

    first, second = reconcile(alice, adapter), reconcile(alice, adapter)

    assert len(first.alerts) == 1 and second.alerts == []
    assert len(second.discrepancies) == 1


def test_it_flags_broker_orders_that_nobody_placed_for_staff(alice, adapter, sim_aapl):
    placed = adapter.place_order(_request(sim_aapl, "placed-in-tws-by-hand"))

    own_run = reconcile(alice, adapter)
    everyone = reconcile(None, adapter)

    assert own_run.discrepancies == []
    [discrepancy] = everyone.discrepancies
    assert discrepancy.kind == "unknown_broker_order" and discrepancy.broker_order_id == placed.broker_order_id
    assert everyone.alerts[0].owner is None


def test_an_order_the_broker_finished_takes_its_final_state(alice, adapter, sim_aapl):
    from broker.orders import order_submit

    from .conftest import let_market_trade

    order = order_submit(new_order(alice, sim_aapl, quantity=1), adapter=adapter)
    let_market_trade(adapter, days=1)

    report = reconcile(alice, adapter)

    order.refresh_from_db()
    assert order.status == Order.Status.FILLED and report.settled_orders == [order.pk]
    assert Position.objects.get(owner=alice, instrument=sim_aapl).quantity == 1
