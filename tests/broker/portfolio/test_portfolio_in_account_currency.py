"""The portfolio in the account's currency: a EUR stock at the broker's EURUSD rate and an E-mini at its multiplier.

Hand computation, USD account of 1,000,000, the broker's EUR rate 1.0825:
- SAP (EUR): 100 bought at 200.00, marked 210.00: worth 21,000.00 EUR = 22,732.50 USD, up 1,000.00 EUR = 1,082.50 USD;
- ES (USD, ×50): 2 bought at 5,000.00, marked 5,012.25: worth 2 × 5,012.25 × 50 = 501,225.00,
  up 2 × 12.25 × 50 = 1,225.00.
"""

from dataclasses import asdict
from decimal import Decimal as D

import pytest
import time_machine

from broker.models import Instrument
from broker.portfolio import apply_fill, mark_to_market, portfolio_summary, position_rows, risk_report
from tests.broker.conftest import WEDNESDAY, usd_account
from tests.broker.portfolio.conftest import make_fill, make_order

ACCOUNT = usd_account("1000000", EUR="1.0825")


@pytest.fixture
def sap(db):
    return Instrument.objects.create(
        symbol="SAP", conid=14204, exchange="SMART", primary_exchange="IBIS", currency="EUR", name="SAP SE"
    )


@pytest.fixture
def es(db):
    return Instrument.objects.create(
        symbol="ES", conid=551601, exchange="CME", currency="USD", sec_type="FUT", multiplier="50", expiry="20261218"
    )


@pytest.fixture
def toyota(db):
    return Instrument.objects.create(
        symbol="7203", conid=13918, exchange="SMART", primary_exchange="TSEJ", currency="JPY"
    )


@pytest.fixture
def book(alice, sap, es):
    apply_fill(make_order(alice, sap, "BUY", 100), make_fill(100, "200.00", exchange_rate="1.0825"))
    apply_fill(make_order(alice, es, "BUY", 2), make_fill(2, "5000.00", exchange_rate="1"))
    mark_to_market(alice, {sap.conid: D("210.00"), es.conid: D("5012.25")})


def test_each_row_shows_its_currency_the_rate_and_its_value_in_the_accounts_currency(alice, book):
    es_row, sap_row = position_rows(alice, account=ACCOUNT)  # largest first, in USD

    assert (sap_row["currency"], sap_row["exchange_rate"]) == ("EUR", D("1.0825"))
    assert (sap_row["market_value"], sap_row["unrealized_pnl"]) == (D("21000.00"), D("1000.00"))
    assert (sap_row["account_market_value"], sap_row["account_unrealized_pnl"]) == (D("22732.50"), D("1082.50"))
    assert sap_row["concentration_pct"] == D("2.27")
    assert (es_row["currency"], es_row["exchange_rate"], es_row["multiplier"]) == ("USD", D("1"), D("50"))
    assert (es_row["account_market_value"], es_row["account_unrealized_pnl"]) == (D("501225.00"), D("1225.00"))
    assert es_row["concentration_pct"] == D("50.12") and es_row["concentrated"]


def test_the_summary_adds_up_in_the_accounts_currency(alice, book):
    summary = portfolio_summary(alice, account=ACCOUNT)

    assert summary["currency"] == "USD"
    assert summary["positions_value"] == D("523957.50")
    assert summary["unrealized_pnl"] == D("2307.50")
    assert summary["total_pnl"] == D("2307.50")
    assert summary["missing_rates"] == []


def test_exposure_is_in_the_accounts_currency(alice, book):
    risk = risk_report(alice, account=ACCOUNT)

    assert (risk["exposure"], risk["exposure_pct"], risk["currency"]) == (D("523957.50"), D("52.40"), "USD")
    assert risk["largest_position_pct"] == D("50.12")


def test_a_currency_without_a_rate_makes_the_totals_unknown_not_a_rate_of_one(alice, book, toyota):
    apply_fill(make_order(alice, toyota, "BUY", 100), make_fill(100, "3000"))

    rows = {row["symbol"]: row for row in position_rows(alice, account=ACCOUNT)}
    summary = portfolio_summary(alice, account=ACCOUNT)
    risk = risk_report(alice, account=ACCOUNT)

    assert rows["7203"]["exchange_rate"] is None
    assert rows["7203"]["account_market_value"] is None and rows["7203"]["concentration_pct"] is None
    assert rows["7203"]["market_value"] == D("300000.00")  # still shown, in yen
    assert rows["SAP"]["account_market_value"] == D("22732.50")
    assert summary["missing_rates"] == ["JPY"]
    assert (summary["positions_value"], summary["unrealized_pnl"], summary["total_pnl"]) == (None, None, None)
    assert (risk["exposure"], risk["exposure_pct"], risk["missing_rates"]) == (None, None, ["JPY"])
    assert "The broker gives no JPY to USD exchange rate: exposure is unknown." in risk["warnings"]


def test_the_api_states_each_row_at_the_brokers_rate(alice_api, alice, bob_api, adapter):
    with time_machine.travel(WEDNESDAY, tick=False):
        sap = Instrument.objects.create(**asdict(adapter.qualify("SAP")))
        apply_fill(make_order(alice, sap, "BUY", 100), make_fill(100, "200.00"))
        rate = adapter.account_summary().exchange_rates["EUR"]
        price = adapter.quote(sap.conid, sap.symbol).last

        positions = alice_api.get("/api/portfolio/positions/").json()
        summary = alice_api.get("/api/portfolio/").json()
        risk = alice_api.get("/api/portfolio/risk/").json()

    [row] = positions["positions"]
    account_value = (100 * price * rate).quantize(D("0.0001"))
    assert (positions["currency"], positions["missing_rates"]) == ("USD", [])
    assert (row["currency"], D(row["exchange_rate"])) == ("EUR", rate)
    assert D(row["market_value"]) == 100 * price
    assert D(row["account_market_value"]) == account_value
    assert D(summary["positions_value"]) == account_value and summary["currency"] == "USD"
    assert D(risk["exposure"]) == account_value
    assert bob_api.get("/api/portfolio/positions/").json()["positions"] == []
