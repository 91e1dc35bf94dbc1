"""Cash, positions, commissions and equity of the simulated account add up."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from broker.adapters.base import OrderRequest
from broker.models import SimulatedExecution
from broker.simulation import SimulatedExchange, conid_for, last_price

from .conftest import WEDNESDAY

START = Decimal("10000000")


def market(side, quantity, ref):
    return OrderRequest(
        conid=conid_for("MSFT"),
        symbol="MSFT",
        side=side,
        quantity=Decimal(quantity),
        order_type="MKT",
        limit_price=None,
        tif="DAY",
        order_ref=ref,
    )


@pytest.mark.django_db
def test_a_buy_moves_cash_into_a_position_and_equity_marks_it(rich_account):
    exchange = SimulatedExchange(seed=42)
    placed = exchange.place_order(market("BUY", "10", "buy-1"), now=WEDNESDAY)
    later = WEDNESDAY + timedelta(minutes=5)
    fill = exchange.order_status(placed.broker_order_id, now=later).fills[0]

    summary = exchange.account_summary(now=later)

    assert fill.commission == Decimal("0.0500")
    assert summary.cash == (START - 10 * fill.price - fill.commission).quantize(Decimal("0.01"))
    assert summary.equity == (summary.cash + 10 * last_price("MSFT", later, seed=42)).quantize(Decimal("0.01"))
    [position] = exchange.positions(now=later)
    assert (position.symbol, position.quantity, position.average_cost) == ("MSFT", Decimal("10"), fill.price)


@pytest.mark.django_db
def test_a_round_trip_realizes_the_price_difference_less_commissions(rich_account):
    exchange = SimulatedExchange(seed=42)
    exchange.place_order(market("BUY", "10", "in"), now=WEDNESDAY)
    exchange.process_market(now=WEDNESDAY + timedelta(minutes=5))
    exchange.place_order(market("SELL", "10", "out"), now=WEDNESDAY + timedelta(hours=3))
    done = WEDNESDAY + timedelta(hours=3, minutes=5)
    [bought], [sold] = (exchange.find_orders_by_ref(ref, now=done)[0].fills for ref in ("in", "out"))

    summary = exchange.account_summary(now=done)

    assert exchange.positions(now=done) == []
    assert summary.equity == summary.cash
    assert summary.cash == START + 10 * (sold.price - bought.price) - bought.commission - sold.commission
    assert exchange.account().realized_pnl == 10 * (sold.price - bought.price)


@pytest.mark.django_db
def test_a_short_sale_is_a_negative_position(rich_account):
    exchange = SimulatedExchange(seed=42)
    exchange.place_order(market("SELL", "4", "short"), now=WEDNESDAY)

    [position] = exchange.positions(now=WEDNESDAY + timedelta(minutes=5))

    assert position.quantity == Decimal("-4")


@pytest.mark.django_db
def test_the_book_survives_a_restart(rich_account):
    placed = SimulatedExchange(seed=42).place_order(market("BUY", "3", "persist"), now=WEDNESDAY)
    SimulatedExchange(seed=42).process_market(now=WEDNESDAY + timedelta(minutes=5))

    fresh = SimulatedExchange(seed=42)  # a new process sees only what the database holds

    state = fresh.order_status(placed.broker_order_id, now=WEDNESDAY + timedelta(minutes=6))
    assert state.status == "filled"
    assert [p.quantity for p in fresh.positions(now=WEDNESDAY + timedelta(minutes=6))] == [Decimal("3")]
    assert fresh.account_summary(now=WEDNESDAY + timedelta(minutes=6)).cash < START


@pytest.mark.django_db(transaction=True)
def test_workers_matching_at_once_fill_an_order_only_once(rich_account):
    placed = SimulatedExchange(seed=42).place_order(market("BUY", "7", "race"), now=WEDNESDAY)
    barrier = threading.Barrier(3)

    def worker():
        try:
            barrier.wait()
            SimulatedExchange(seed=42).process_market(now=WEDNESDAY + timedelta(minutes=5))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert SimulatedExecution.objects.filter(order_id=int(placed.broker_order_id)).count() == 1
    state = SimulatedExchange(seed=42).order_status(placed.broker_order_id, now=WEDNESDAY + timedelta(minutes=6))
    assert state.filled_quantity == Decimal("7")
