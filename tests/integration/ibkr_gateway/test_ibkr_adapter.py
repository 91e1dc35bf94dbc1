"""broker.adapters.ibkr end to end: the real adapter and ib_insync against the gateway simulator."""

import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connections

from broker.adapters.base import BrokerUnavailable, OrderRequest, PermanentBrokerError, TransientBrokerError
from broker.adapters.ibkr import IBKRAdapter
from broker.pacing import HistoricalPacer
from broker.signals import gateway_reconnected
from broker.simulation import SimulatedExchange, conid_for, generate_bars
from execution.tasks import reconcile_after_reconnect

from .conftest import on_own_connection


def eventually(probe, timeout: float = 10.0):
    """Poll `probe()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := probe()):
        assert time.monotonic() < deadline, "the adapter did not see it in time"
        time.sleep(0.05)
    return result


def make_adapter(port: int, settings) -> IBKRAdapter:
    settings.IBKR_HOST = "127.0.0.1"
    settings.IBKR_PORT = port
    settings.IBKR_ACCOUNT = ""
    settings.IBKR_READONLY = False
    settings.IBKR_TIMEOUT = 5.0
    # A pacer of its own, so requests of other tests in this run never make this one wait.
    return IBKRAdapter(client_id=11, pacer=HistoricalPacer(name=f"gateway-sim-{uuid.uuid4().hex}"))


@pytest.fixture
def adapter(gateway, settings):
    adapter = make_adapter(gateway.port, settings)
    yield adapter
    adapter.close()


def buy(symbol: str, quantity: int, limit: str, order_ref: str, **bracket) -> OrderRequest:
    return OrderRequest(
        conid=conid_for(symbol),
        symbol=symbol,
        side="BUY",
        quantity=Decimal(quantity),
        order_type="LMT",
        limit_price=Decimal(limit),
        tif="DAY",
        order_ref=order_ref,
        **bracket,
    )


def test_the_adapter_connects_to_a_paper_account_and_qualifies(gateway, adapter):
    status = adapter.status()
    assert status.connected and status.authenticated and status.paper
    assert status.account_id == gateway.account_id

    info = adapter.qualify("slow")

    assert (info.conid, info.symbol, info.currency, info.sec_type) == (conid_for("SLOW"), "SLOW", "USD", "STK")


def test_the_adapter_reads_bars_equal_to_the_simulated_exchange(gateway, adapter):
    bars = adapter.historical_bars(conid_for("MSFT"), "MSFT", "3m", "1d")

    assert bars == generate_bars("MSFT", "3m", "1d", end=gateway.clock.now())
    assert len(bars) > 50


def test_one_adapter_answers_the_threads_of_an_io_worker_at_once(gateway, adapter):
    """An io worker's threads share its process's adapter (one connection): calls made at once all get their answer."""
    symbols = ["MSFT", "AAPL", "SLOW", "NVDA"] * 4
    all_started = threading.Barrier(len(symbols))

    def quote_and_bars(symbol: str):
        all_started.wait(timeout=30)
        try:
            conid = conid_for(symbol)
            return adapter.quote(conid, symbol), adapter.historical_bars(conid, symbol, "3m", "1d")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(symbols)) as pool:
        answers = list(pool.map(quote_and_bars, symbols))

    end = gateway.clock.now()
    for symbol, (quote, bars) in zip(symbols, answers, strict=True):
        assert quote.bid < quote.ask, symbol
        assert bars == generate_bars(symbol, "3m", "1d", end=end), symbol


def test_the_adapter_quotes_bid_below_ask(adapter):
    quote = adapter.quote(conid_for("SLOW"), "SLOW")

    assert quote.bid < quote.ask
    assert quote.bid <= quote.last <= quote.ask


def test_the_adapter_follows_a_limit_order_filling_in_parts(gateway, adapter):
    placed = adapter.place_order(buy("SLOW", 300, "64.00", "idem-large"))
    assert placed.status in ("submitted", "partially_filled")

    def filled():
        state = adapter.order_status(placed.broker_order_id)
        return state if state.status == "filled" else None

    final = eventually(filled)

    # The parts are the fills: a poll may or may not land while the order is partly filled.
    assert final.filled_quantity == 300
    assert len(final.fills) >= 2 and sum(f.quantity for f in final.fills) == 300
    assert final.avg_fill_price <= Decimal("64.00")
    [by_ref] = adapter.find_orders_by_ref("idem-large")
    assert (by_ref.broker_order_id, by_ref.status, by_ref.filled_quantity) == (placed.broker_order_id, "filled", 300)

    position = eventually(lambda: [p for p in adapter.positions() if p.symbol == "SLOW" and p.quantity == 300])
    assert position[0].conid == conid_for("SLOW")
    exchange = on_own_connection(
        lambda: SimulatedExchange(account_id=gateway.account_id).account_summary(now=gateway.clock.now())
    )
    account = eventually(lambda: (a := adapter.account_summary()).cash == exchange.cash and a)
    assert account.account_id == gateway.account_id and account.paper
    assert account.equity > account.cash


def test_the_adapter_cancels_a_resting_order(adapter):
    placed = adapter.place_order(buy("SLOW", 100, "50.00", "idem-resting"))

    cancelled = adapter.cancel_order(placed.broker_order_id)

    assert cancelled.status == "cancelled" and cancelled.filled_quantity == 0
    assert adapter.open_orders() == []
    with pytest.raises(PermanentBrokerError):
        adapter.cancel_order(placed.broker_order_id)


def test_the_adapter_places_a_bracket_as_one_order(adapter):
    placed = adapter.place_order(
        buy("SLOW", 20, "64.00", "idem-bracket", take_profit=Decimal("63.50"), stop_loss=Decimal("63.00"))
    )

    assert eventually(lambda: adapter.order_status(placed.broker_order_id).status == "filled")
    [state] = adapter.find_orders_by_ref("idem-bracket")
    assert state.broker_order_id == placed.broker_order_id


def test_the_adapter_maps_gateway_errors_to_permanent_and_transient(gateway, adapter):
    with pytest.raises(PermanentBrokerError) as unknown:
        adapter.qualify("NO_SUCH")
    assert unknown.value.code == 200

    gateway.faults.pacing_violation_next()
    with pytest.raises(TransientBrokerError) as paced:
        adapter.historical_bars(conid_for("SLOW"), "SLOW", "1m", "1d")
    assert paced.value.code == 162

    gateway.faults.reject_next_order("Margin check failed")
    rejected = adapter.place_order(buy("SLOW", 10, "50.00", "idem-rejected"))
    assert rejected.status == "rejected"
    assert "[201]" in rejected.message and "Margin check failed" in rejected.message


def test_the_adapter_reconnects_after_the_gateway_drops_it_and_says_so_once(gateway, adapter):
    reconnects = []

    def heard(sender, adapter, **kwargs):
        reconnects.append(adapter)

    # Only this test listens: the app's own listener would queue a reconciliation for a later test's worker.
    gateway_reconnected.disconnect(reconcile_after_reconnect)
    gateway_reconnected.connect(heard)
    try:
        adapter.qualify("SLOW")
        assert reconnects == []  # a first connection is not a reconnect

        gateway.drop_connections()
        eventually(lambda: not adapter.ib.isConnected())

        assert adapter.qualify("KO").symbol == "KO"
        assert adapter.status().connected
    finally:
        gateway_reconnected.disconnect(heard)
        gateway_reconnected.connect(reconcile_after_reconnect)
    assert reconnects == [adapter]


def test_the_adapter_reports_an_unreachable_gateway_as_unavailable(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    adapter = make_adapter(closed_port, settings)

    assert not adapter.status().connected
    with pytest.raises(BrokerUnavailable):
        adapter.qualify("SLOW")
    adapter.close()


def test_closing_the_adapter_frees_its_client_id(gateway, adapter, settings):
    adapter.qualify("SLOW")
    assert adapter.client_id in gateway.sessions

    adapter.close()
    adapter.close()

    eventually(lambda: adapter.client_id not in gateway.sessions)
    successor = make_adapter(gateway.port, settings)
    assert successor.client_id == adapter.client_id
    assert successor.status().connected
    successor.close()


def test_the_adapter_fills_a_market_order(adapter):
    request = OrderRequest(
        conid=conid_for("SLOW"),
        symbol="SLOW",
        side="BUY",
        quantity=Decimal("10"),
        order_type="MKT",
        limit_price=None,
        tif="DAY",
        order_ref="idem-market",
    )
    placed = adapter.place_order(request)

    final = eventually(lambda: (state := adapter.order_status(placed.broker_order_id)).status == "filled" and state)

    assert final.filled_quantity == 10 and sum(fill.quantity for fill in final.fills) == 10
    assert final.avg_fill_price > 0
