"""The simulated broker and helpers shared by the bracket, reconciliation and alert tests."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from broker.models import Instrument, Order
from broker.orders import new_idempotency_key


@pytest.fixture
def adapter(db, market_open):
    """The simulated exchange on a trading day, so the bars `let_market_trade` runs through exist."""
    from broker.adapters.simulated import SimulatedAdapter

    return SimulatedAdapter()


@pytest.fixture
def sim_aapl(adapter):
    contract = adapter.qualify("AAPL")
    return Instrument.objects.create(symbol=contract.symbol, conid=contract.conid, name=contract.name)


def let_market_trade(adapter, days=7):
    """Run the simulated market ahead so working orders meet the bars that fill them."""
    adapter.exchange.process_market(timezone.now() + timedelta(days=days))


def new_order(owner, instrument, side="BUY", quantity=2, *, order_type="MKT", price=None, **extra) -> Order:
    return Order(
        owner=owner,
        instrument=instrument,
        side=side,
        quantity=Decimal(quantity),
        order_type=order_type,
        limit_price=Decimal(price) if price is not None else None,
        tif="GTC",
        idempotency_key=new_idempotency_key("test"),
        **extra,
    )
