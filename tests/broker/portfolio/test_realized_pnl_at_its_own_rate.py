"""Realized P&L in the account's currency is fixed at the broker's rate of the closing fill, whatever the rate is now.

A USD account: 100 SAP bought at 200.00 EUR (EURUSD 1.10), sold at 210.00 EUR with 5.00 EUR commission
(EURUSD 1.05): +995.00 EUR realized, which is 1,044.75 USD at 1.05, today and whenever EURUSD moves.
Two ES contracts (×50) bought at 5,000.00 and sold at 4,990.00: -1,000.00 USD.
"""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.urls import reverse

from broker.models import Instrument, Trade
from broker.portfolio import apply_fill, portfolio_summary, trade_statistics
from broker.selectors import strategy_pnl
from tests.broker.conftest import usd_account
from tests.broker.portfolio.conftest import make_fill, make_order


@pytest.fixture
def closed_book(alice):
    sap = Instrument.objects.create(symbol="SAP", conid=14204, primary_exchange="IBIS", currency="EUR")
    es = Instrument.objects.create(
        symbol="ES", conid=551601, exchange="CME", sec_type="FUT", multiplier="50", expiry="20261218"
    )
    apply_fill(make_order(alice, sap, "BUY", 100), make_fill(100, "200.00", exchange_rate="1.10"))
    apply_fill(make_order(alice, sap, "SELL", 100), make_fill(100, "210.00", "5.00", minutes=60, exchange_rate="1.05"))
    apply_fill(make_order(alice, es, "BUY", 2), make_fill(2, "5000.00", exchange_rate="1"))
    apply_fill(make_order(alice, es, "SELL", 2), make_fill(2, "4990.00", minutes=90, exchange_rate="1"))


def test_the_closing_fills_rate_is_kept_on_the_trade(alice, closed_book):
    sap_trade = Trade.objects.get(owner=alice, instrument__symbol="SAP")

    assert (sap_trade.realized_pnl, sap_trade.exchange_rate) == (D("995.00"), D("1.05"))


def test_realized_pnl_stays_at_its_own_rate_when_the_rate_moves(alice, closed_book):
    for today in ("1.05", "1.20"):
        summary = portfolio_summary(alice, account=usd_account(EUR=today))

        assert summary["realized_pnl"] == D("44.75")  # 1,044.75 - 1,000.00
        assert (summary["largest_win"], summary["largest_loss"]) == (D("1044.75"), D("-1000.00"))
        assert summary["missing_rates"] == []


def test_realized_pnl_is_known_even_when_the_broker_no_longer_quotes_the_currency(alice, closed_book):
    summary = portfolio_summary(alice, account=usd_account())

    assert summary["realized_pnl"] == D("44.75")


def test_a_trade_booked_without_a_rate_is_unknown_in_another_currency(alice):
    chf = Instrument.objects.create(symbol="NESN", conid=39, primary_exchange="EBS", currency="CHF")
    apply_fill(make_order(alice, chf, "BUY", 10), make_fill(10, "100"))
    apply_fill(make_order(alice, chf, "SELL", 10), make_fill(10, "110", minutes=5))

    summary = portfolio_summary(alice, account=usd_account(CHF="1.12"))
    statistics = trade_statistics(Trade.objects.filter(owner=alice), "USD")

    assert summary["realized_pnl"] is None and summary["missing_rates"] == ["CHF"]
    assert (statistics["closed_trades"], statistics["unconverted_trades"]) == (0, 1)


def test_the_strategy_chart_and_the_performance_card_sum_in_the_accounts_currency(client, alice, closed_book):
    assert [row["realized"] for row in strategy_pnl(alice, "USD")] == [D("44.75")]

    client.force_login(alice)
    page = client.get(reverse("portfolio"))

    assert page.context["currency"] == "USD"
    assert page.context["statistics"]["gross_profit"] == D("1044.75")
    assert [day["pnl"] for day in page.context["pnl_by_day"]] == [D("44.75")]


def test_the_dashboard_totals_the_realized_pnl_in_the_accounts_currency(client, alice, closed_book):
    Trade.objects.filter(owner=alice).update(exit_at=datetime(2026, 3, 2, 16, tzinfo=UTC))
    client.force_login(alice)
    client.get(reverse("dashboard-account"))  # the broker names the account's currency

    assert client.get(reverse("dashboard")).context["totals"].realized_pnl == D("44.75")
