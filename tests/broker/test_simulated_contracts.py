"""The simulated exchange lists stocks and ETFs abroad, FX on IDEALPRO and E-minis, and books each in its currency
and multiplier at the rates it reports (EURUSD about 1.08, GBPUSD 1.27, USDJPY 150)."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from broker.adapters.base import AmbiguousContract, ContractSpec, OrderRequest, PermanentBrokerError
from broker.adapters.simulated import SimulatedAdapter
from broker.models import Order

from .conftest import WEDNESDAY

START = Decimal("10000000")
LATER = WEDNESDAY + timedelta(minutes=5)
CENTS = Decimal("0.01")


@pytest.fixture
def adapter(db, rich_account):
    with time_machine.travel(WEDNESDAY, tick=False):
        yield SimulatedAdapter()


def market_buy(info, quantity, ref):
    return OrderRequest(
        conid=info.conid, symbol=info.symbol, side="BUY", quantity=Decimal(quantity), order_type="MKT",
        limit_price=None, tif="DAY", order_ref=ref,
    )  # fmt: skip


def test_a_ticker_on_two_exchanges_is_ambiguous_with_its_candidates(adapter):
    with pytest.raises(AmbiguousContract) as ambiguous:
        adapter.qualify("VWRL")

    assert sorted((c.primary_exchange, c.currency) for c in ambiguous.value.candidates) == [
        ("AEB", "EUR"), ("LSEETF", "GBP"),
    ]  # fmt: skip
    assert adapter.qualify(ContractSpec("VWRL", exchange="LSEETF")).currency == "GBP"


def test_stocks_abroad_fx_and_futures_qualify_as_ibkr_lists_them(adapter):
    sap = adapter.qualify("SAP")
    euro = adapter.qualify(ContractSpec("EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD"))
    future = adapter.qualify(ContractSpec("ES", sec_type="FUT", exchange="CME", expiry="202612"))

    assert (sap.primary_exchange, sap.currency, sap.sec_type) == ("IBIS", "EUR", "STK")
    assert (euro.sec_type, euro.exchange, euro.local_symbol, euro.currency) == ("CASH", "IDEALPRO", "EUR.USD", "USD")
    assert (future.multiplier, future.expiry, future.local_symbol) == ("50", "20261218", "ESZ6")
    assert adapter.qualify("AAPL").currency == "USD"


def test_an_expired_future_or_an_unlisted_contract_is_refused(adapter):
    with pytest.raises(PermanentBrokerError, match="future has expired"):
        adapter.qualify(ContractSpec("ES", sec_type="FUT", exchange="CME", expiry="202606"))
    with pytest.raises(PermanentBrokerError, match="no\\s+such contract"):
        adapter.qualify(ContractSpec("AAPL", currency="EUR"))


def test_the_account_reports_sensible_rates_and_fx_trades_at_them(adapter):
    rates = adapter.account_summary().exchange_rates
    euro = adapter.qualify(ContractSpec("EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD"))

    assert set(rates) == {"EUR", "GBP", "JPY"}
    assert Decimal("0.95") < rates["EUR"] < Decimal("1.25")
    assert Decimal("1.10") < rates["GBP"] < Decimal("1.45")
    assert Decimal("1") / 175 < rates["JPY"] < Decimal("1") / 125
    assert adapter.quote(euro.conid, euro.symbol).last == rates["EUR"]


def test_a_euro_stock_fills_at_the_rate_and_moves_cash_in_dollars(adapter):
    exchange = adapter.exchange
    sap = adapter.qualify("SAP")
    placed = exchange.place_order(market_buy(sap, 10, "sap"), now=WEDNESDAY)

    [fill] = exchange.order_status(placed.broker_order_id, now=LATER).fills
    summary = exchange.account_summary(now=LATER)

    assert fill.exchange_rate == exchange.exchange_rates(LATER - timedelta(minutes=4))["EUR"]
    assert summary.cash == (START - (10 * fill.price + fill.commission) * fill.exchange_rate).quantize(CENTS)
    [held] = exchange.positions(now=LATER)
    assert (held.conid, held.currency, held.multiplier) == (sap.conid, "EUR", "")


def test_a_future_moves_cash_by_its_multiplier_and_leaves_equity_less_commission(adapter):
    exchange = adapter.exchange
    future = adapter.qualify(ContractSpec("ES", sec_type="FUT", exchange="CME", expiry="202612"))
    placed = exchange.place_order(market_buy(future, 2, "es"), now=WEDNESDAY)

    [fill] = exchange.order_status(placed.broker_order_id, now=LATER).fills
    summary = exchange.account_summary(now=LATER)

    assert Decimal("4000") < fill.price < Decimal("6000") and fill.exchange_rate == 1
    assert summary.cash == (START - 2 * fill.price * 50 - fill.commission).quantize(CENTS)
    position_value = 2 * exchange.price("ES.202612", LATER) * 50
    assert summary.equity == (summary.cash + position_value).quantize(CENTS)
    [held] = exchange.positions(now=LATER)
    assert (held.multiplier, held.average_cost) == ("50", fill.price)


def test_an_ambiguous_order_gets_a_400_listing_the_candidates_and_places_nothing(adapter, alice_api):
    response = alice_api.post(
        "/api/orders/", {"symbol": "VWRL", "side": "BUY", "quantity": 2, "price": "50"}, format="json"
    )

    assert response.status_code == 400
    assert sorted((c["exchange"], c["currency"]) for c in response.json()["candidates"]) == [
        ("AEB", "EUR"), ("LSEETF", "GBP"),
    ]  # fmt: skip
    assert not Order.objects.exists()
