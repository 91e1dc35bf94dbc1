"""Builders for the portfolio tests: instruments, orders and broker fills."""

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from broker.adapters.base import FillInfo
from broker.models import Instrument, Order

_exec_ids = itertools.count(1)
T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


@pytest.fixture
def aapl(db):
    return Instrument.objects.create(symbol="AAPL", conid=265598, name="Apple Inc")


@pytest.fixture
def msft(db):
    return Instrument.objects.create(symbol="MSFT", conid=272093, name="Microsoft Corp")


def make_order(
    owner, instrument, side, quantity, *, price=None, decision=None, strategy=None, status="filled", **extra
):
    return Order.objects.create(
        owner=owner,
        instrument=instrument,
        side=side,
        quantity=Decimal(quantity),
        limit_price=Decimal(price) if price is not None else None,
        decision=decision,
        strategy=strategy,
        status=status,
        idempotency_key=f"test-{next(_exec_ids)}",
        **extra,
    )


def make_fill(quantity, price, commission="0", *, minutes=0, exec_id=None, exchange_rate=None):
    return FillInfo(
        exchange_rate=Decimal(exchange_rate) if exchange_rate is not None else None,
        exec_id=exec_id or f"exec-{next(_exec_ids)}",
        quantity=Decimal(quantity),
        price=Decimal(price),
        commission=Decimal(commission),
        time=T0 + timedelta(minutes=minutes),
    )


@pytest.fixture
def adapter(db):
    """The simulated broker, the one a self-hosted install runs by default."""
    from broker.adapters.simulated import SimulatedAdapter

    return SimulatedAdapter()


@pytest.fixture
def sim_aapl(db, adapter):
    """AAPL as the simulated broker qualifies it (so quotes and orders match its conid)."""
    contract = adapter.qualify("AAPL")
    return Instrument.objects.create(symbol=contract.symbol, conid=contract.conid, name=contract.name)


def let_market_trade(adapter, days=4):
    """Let the simulated market run ahead, so working orders meet the bars that fill them."""
    from django.utils import timezone

    adapter.exchange.process_market(timezone.now() + timedelta(days=days))


def new_order(owner, instrument, side="BUY", quantity=5, *, order_type="MKT", price=None, tif="GTC", **extra):
    """An unsaved order, as the engine or the manual-order API builds it before order_submit."""
    from broker.orders import new_idempotency_key

    return Order(
        owner=owner,
        instrument=instrument,
        side=side,
        quantity=Decimal(quantity),
        order_type=order_type,
        limit_price=Decimal(price) if price is not None else None,
        tif=tif,
        idempotency_key=new_idempotency_key("test"),
        **extra,
    )
