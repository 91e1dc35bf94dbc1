"""IBKR fills carry the broker's exchange rate: each fill is booked at the ExchangeRate the account values give for
its contract's currency, so realized P&L in the account's currency is fixed at the closing fill's rate.

Round trips through the IBKR adapter and the gateway simulator: EUR.USD (CASH on IDEALPRO, quoted in dollars),
an E-mini (×50) and a pound-quoted ETF, each bought and sold back at market.
"""

from decimal import Decimal

import pytest

from broker.adapters import get_adapter
from broker.adapters.base import ContractSpec
from broker.instruments import qualify_contract
from broker.models import Fill, Instrument, Order, Trade
from broker.orders import order_place_manual, order_refresh
from broker.portfolio import portfolio_summary
from tests.workers import wait_until

LIVE_FUTURE = "202403"  # the simulator's market clock starts on 2024-01-03


@pytest.fixture(autouse=True)
def rich_account(settings):
    """An account that holds an E-mini (about 250,000 a contract) within the 20 % position cap."""
    settings.SIMULATED_STARTING_CASH = Decimal("10000000")


def round_trip(owner, instrument: Instrument, quantity: int) -> Trade:
    for side in ("BUY", "SELL"):
        order = order_place_manual(
            owner=owner, instrument=instrument, side=side, quantity=Decimal(quantity), order_type="MKT",
            limit_price=None, tif="DAY",
        )  # fmt: skip
        wait_until(
            lambda order=order: order_refresh(order).status == Order.Status.FILLED,
            timeout=60,
            interval=0.2,
            message=f"{side} {instrument.symbol} filled",
        )
    return Trade.objects.get(owner=owner, instrument=instrument)


def test_an_etf_in_pounds_is_booked_at_the_accounts_gbp_rate(ibkr_broker, alice):
    etf = qualify_contract(ContractSpec("VWRL", exchange="LSEETF"))

    trade = round_trip(alice, etf, 20)

    account = get_adapter().account_summary()
    assert trade.is_closed() and etf.currency == "GBP"
    assert trade.exchange_rate is not None and abs(trade.exchange_rate - account.exchange_rates["GBP"]) < Decimal("0.1")
    fills = Fill.objects.filter(order__instrument=etf)
    assert fills.count() == 2
    summary = portfolio_summary(alice, account=account)
    assert summary["realized_pnl"] == (trade.realized_pnl * trade.exchange_rate).quantize(Decimal("0.0001"))
    assert summary["missing_rates"] == []


def test_an_fx_round_trip_on_idealpro_is_booked_in_dollars(ibkr_broker, alice):
    euro = qualify_contract(ContractSpec("EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD"))

    trade = round_trip(alice, euro, 10000)

    assert (euro.currency, trade.exchange_rate) == ("USD", Decimal("1"))
    assert portfolio_summary(alice, account=get_adapter().account_summary())["realized_pnl"] == trade.realized_pnl


def test_a_futures_round_trip_realizes_fifty_times_the_points(ibkr_broker, alice):
    future = qualify_contract(ContractSpec("ES", sec_type="FUT", exchange="CME", expiry=LIVE_FUTURE))

    trade = round_trip(alice, future, 1)

    points = trade.exit_price - trade.entry_price
    assert trade.exchange_rate == Decimal("1")
    assert trade.realized_pnl == (points * 50 - trade.commission).quantize(Decimal("0.0001"))
    assert portfolio_summary(alice, account=get_adapter().account_summary())["realized_pnl"] == trade.realized_pnl
