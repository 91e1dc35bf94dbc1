"""Contracts beyond US stocks, end to end through the IBKR adapter and the gateway simulator.

An ETF listed on two European exchanges, an FX pair (CASH on IDEALPRO) and an E-mini future
(CME, multiplier 50): qualified with exchange, currency and contract month, quoted, traded
and held. A ticker on several exchanges answers 400 with the candidates, an expired future 400
with the reason, and neither places anything.
"""

from decimal import Decimal

import pytest

from broker.adapters import get_adapter
from broker.adapters.base import AmbiguousContract, ContractSpec, PermanentBrokerError
from broker.contract_value import exposure, instrument_unit_value
from broker.instruments import qualify_contract
from broker.models import Instrument, Order, RiskLimits
from broker.orders import order_place_manual, order_refresh
from tests.workers import wait_until

# The simulator's market clock starts on 2024-01-03: the December 2023 E-mini has expired.
LIVE_FUTURE, EXPIRED_FUTURE = "202403", "202312"


@pytest.fixture(autouse=True)
def rich_account(settings):
    """An account that can hold an E-mini (about 5,000 × 50 = 250,000 a contract) within the 20 % position cap."""
    settings.SIMULATED_STARTING_CASH = Decimal("10000000")


def order_at(gateway, order_ref: str):
    [record] = [record for record in gateway.orders.values() if record.order_ref == order_ref]
    return record


def test_a_ticker_on_two_exchanges_is_ambiguous_until_the_exchange_is_given(ibkr_broker):
    adapter = get_adapter()
    with pytest.raises(AmbiguousContract) as ambiguous:
        adapter.qualify("VWRL")
    assert sorted((c.primary_exchange, c.currency) for c in ambiguous.value.candidates) == [
        ("AEB", "EUR"), ("LSEETF", "GBP"),
    ]  # fmt: skip

    london = adapter.qualify(ContractSpec("VWRL", exchange="LSEETF"))
    assert (london.primary_exchange, london.currency, london.sec_type) == ("LSEETF", "GBP", "STK")
    assert london.conid not in {c.conid for c in ambiguous.value.candidates if c.primary_exchange == "AEB"}


def test_an_order_for_an_ambiguous_ticker_gets_a_400_listing_the_candidates(ibkr_broker, alice_api):
    response = alice_api.post(
        "/api/orders/", {"symbol": "VWRL", "side": "BUY", "quantity": 2, "price": "50"}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert "give the exchange" in body["exchange"][0]
    assert sorted((c["exchange"], c["currency"]) for c in body["candidates"]) == [("AEB", "EUR"), ("LSEETF", "GBP")]
    assert not Order.objects.exists() and not ibkr_broker.orders


def test_an_etf_listed_abroad_is_traded_in_its_currency(ibkr_broker, alice_api):
    order = {"symbol": "VWRL", "exchange": "LSEETF", "side": "BUY", "quantity": 2, "price": "1.00"}

    response = alice_api.post("/api/orders/", order, format="json")

    assert response.status_code == 201, response.json()
    record = order_at(ibkr_broker, response.json()["idempotency_key"])
    assert (record.contract.primary_exchange, record.contract.currency) == ("LSEETF", "GBP")
    instrument = Instrument.objects.get(conid=response.json()["conid"])
    assert (instrument.primary_exchange, instrument.currency, instrument.sec_type) == ("LSEETF", "GBP", "STK")


def test_an_fx_round_trip_on_idealpro(ibkr_broker, alice):
    adapter = get_adapter()
    instrument = qualify_contract(ContractSpec("EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD"))
    assert (instrument.sec_type, instrument.exchange, instrument.local_symbol) == ("CASH", "IDEALPRO", "EUR.USD")
    assert adapter.quote(instrument.conid, instrument.symbol).last > 0
    assert adapter.historical_bars(instrument.conid, instrument.symbol, "1m", "1d")

    order = place(alice, instrument, quantity=10)
    filled = wait_until_filled(order)

    record = order_at(ibkr_broker, order.idempotency_key)
    assert (record.contract.sec_type, record.contract.exchange) == ("CASH", "IDEALPRO")
    assert filled.filled_quantity == 10
    held = {p.conid: p.quantity for p in adapter.positions()}
    assert held[instrument.conid] == 10


def test_a_future_round_trip_carries_its_multiplier_and_contract_month(ibkr_broker, alice):
    adapter = get_adapter()
    instrument = qualify_contract(ContractSpec("ES", sec_type="FUT", exchange="CME", expiry=LIVE_FUTURE))
    assert (instrument.sec_type, instrument.multiplier, instrument.expiry[:6]) == ("FUT", "50", LIVE_FUTURE)
    assert instrument.local_symbol == "ESH4"

    order = place(alice, instrument, quantity=1)
    filled = wait_until_filled(order)

    record = order_at(ibkr_broker, order.idempotency_key)
    assert (record.contract.sec_type, record.contract.multiplier, record.contract.exchange) == ("FUT", "50", "CME")
    assert filled.filled_quantity == 1
    assert {p.conid: p.quantity for p in adapter.positions()}[instrument.conid] == 1


def test_an_expired_future_is_a_clear_400_and_nothing_is_placed(ibkr_broker, alice_api):
    with pytest.raises(PermanentBrokerError, match="future has expired"):
        get_adapter().qualify(ContractSpec("ES", sec_type="FUT", exchange="CME", expiry=EXPIRED_FUTURE))

    response = alice_api.post(
        "/api/orders/",
        {"symbol": "ES", "sec_type": "FUT", "expiry": EXPIRED_FUTURE, "side": "BUY", "quantity": 1, "price": "1"},
        format="json",
    )

    assert response.status_code == 400 and "expired" in response.json()["symbol"][0]
    assert not Order.objects.exists() and not ibkr_broker.orders


def place(owner, instrument: Instrument, quantity: int) -> Order:
    return order_place_manual(
        owner=owner, instrument=instrument, side="BUY", quantity=Decimal(quantity), order_type="MKT",
        limit_price=None, tif="DAY",
    )  # fmt: skip


def wait_until_filled(order: Order) -> Order:
    """Refresh the order from the broker until the simulated market (ten minutes a second) has filled it."""
    return wait_until(
        lambda: (fresh := order_refresh(order)).status == Order.Status.FILLED and fresh,
        timeout=60,
        interval=0.2,
        message=f"order {order.pk} filled",
    )


def test_the_broker_reports_the_exchange_rates_risk_converts_with(ibkr_broker):
    rates = get_adapter().account_summary().exchange_rates

    assert set(rates) == {"EUR", "GBP", "JPY"}
    assert all(rate > 0 for rate in rates.values())
    london = qualify_contract(ContractSpec("VWRL", exchange="LSEETF"))
    assert instrument_unit_value(london, get_adapter().account_summary()) == rates["GBP"]


def test_a_future_is_held_at_its_price_per_point_and_counts_fifty_times_in_exposure(ibkr_broker, alice):
    adapter = get_adapter()
    future = qualify_contract(ContractSpec("ES", sec_type="FUT", exchange="CME", expiry=LIVE_FUTURE))

    filled = wait_until_filled(place(alice, future, quantity=1))

    [held] = [p for p in adapter.positions() if p.conid == future.conid]
    # TWS reports a future's avgCost per contract (price × 50); the adapter gives the price per point.
    assert held.average_cost == filled.avg_fill_price
    assert (held.multiplier, held.currency) == ("50", "USD")
    assert exposure([held], adapter.account_summary()) == 50 * filled.avg_fill_price


def test_a_manual_future_order_worth_more_than_the_cap_in_contract_value_is_refused(ibkr_broker, alice_api):
    adapter = get_adapter()
    future = qualify_contract(ContractSpec("ES", sec_type="FUT", exchange="CME", expiry=LIVE_FUTURE))
    price = adapter.quote(future.conid, future.symbol).last
    cap = adapter.account_summary().equity * RiskLimits.current().max_position_pct
    quantity = int(cap / (price * 50)) + 1
    assert quantity * price < cap  # as shares it would pass the cap

    response = alice_api.post(
        "/api/orders/",
        {"symbol": "ES", "sec_type": "FUT", "expiry": LIVE_FUTURE, "side": "BUY", "quantity": quantity,
         "price": str(price)},
        format="json",
    )  # fmt: skip

    assert response.status_code == 400, response.json()
    assert "above the cap" in str(response.json())
    assert not ibkr_broker.orders
