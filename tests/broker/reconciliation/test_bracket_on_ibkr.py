"""Brackets through the IBKR adapter: real ib_insync against the gateway simulator (no IBKR server here)."""

from decimal import Decimal

import pytest

from broker.adapters.ibkr import trade_id
from broker.models import Instrument, Order
from broker.orders import new_idempotency_key, order_cancel, order_submit, poll_open_orders
from broker.simulation import conid_for
from tests.integration.ibkr_gateway.conftest import gateway, paper_account  # noqa: F401 - fixtures
from tests.integration.ibkr_gateway.test_ibkr_adapter import eventually, make_adapter

pytestmark = pytest.mark.django_db


@pytest.fixture
def ibkr(gateway, settings):  # noqa: F811 - the fixture imported above
    adapter = make_adapter(gateway.port, settings)
    yield adapter
    adapter.close()


def test_a_bracket_entry_on_ibkr_gets_child_orders_and_cancels_with_them(alice, ibkr):
    slow = Instrument.objects.create(symbol="SLOW", conid=conid_for("SLOW"))
    resting = Order(
        owner=alice,
        instrument=slow,
        side="BUY",
        quantity=Decimal("20"),
        order_type="LMT",
        limit_price=Decimal("50.00"),  # far below the market: the entry rests
        tif="DAY",
        idempotency_key=new_idempotency_key("ibkr"),
    )

    entry = order_submit(resting, adapter=ibkr, take_profit=Decimal("70.00"), stop_loss=Decimal("45.00"))

    take_profit, stop_loss = entry.children.order_by("id")
    assert entry.status == Order.Status.SUBMITTED and entry.broker_order_id
    assert take_profit.broker_order_id and stop_loss.broker_order_id
    assert len({entry.broker_order_id, take_profit.broker_order_id, stop_loss.broker_order_id}) == 3
    assert (take_profit.limit_price, stop_loss.stop_price) == (Decimal("70.00"), Decimal("45.00"))
    at_broker = {trade_id(trade): trade.order for trade in ibkr.ib.trades()}
    assert (at_broker[take_profit.broker_order_id].orderType, at_broker[take_profit.broker_order_id].lmtPrice) == (
        "LMT",
        70.0,
    )
    assert (at_broker[stop_loss.broker_order_id].orderType, at_broker[stop_loss.broker_order_id].auxPrice) == (
        "STP",
        45.0,
    )

    order_cancel(entry, adapter=ibkr)

    def legs_cancelled():  # IB reports the children's cancellation just after the parent's
        poll_open_orders(adapter=ibkr)
        return set(entry.children.values_list("status", flat=True)) == {Order.Status.CANCELLED}

    assert eventually(legs_cancelled)
