"""The dashboard's market value and unrealized P&L add up in the account's currency, at the broker's rate.

A USD account at the simulated broker: 100 SAP (EUR) bought at 200.00 and marked 210.00, and 2 ES
(USD, ×50) bought at 5,000.00 and marked 5,012.25. In the account's currency that is worth
100 × 210.00 × EURUSD + 2 × 5,012.25 × 50, and up 100 × 10.00 × EURUSD + 2 × 12.25 × 50.
"""

from decimal import Decimal as D

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from broker.adapters.simulated import SimulatedAdapter
from broker.models import Instrument
from broker.portfolio import apply_fill, mark_to_market
from tests.broker.conftest import WEDNESDAY
from tests.broker.portfolio.conftest import make_fill, make_order


@pytest.fixture
def broker_never_asked(settings):
    settings.BROKER_ADAPTER = "simulated"
    cache.clear()


@pytest.fixture
def book(alice):
    sap = Instrument.objects.create(symbol="SAP", conid=14204, primary_exchange="IBIS", currency="EUR")
    es = Instrument.objects.create(
        symbol="ES", conid=551601, exchange="CME", sec_type="FUT", multiplier="50", expiry="20261218"
    )
    apply_fill(make_order(alice, sap, "BUY", 100), make_fill(100, "200.00"))
    apply_fill(make_order(alice, es, "BUY", 2), make_fill(2, "5000.00"))
    mark_to_market(alice, {sap.conid: D("210.00"), es.conid: D("5012.25")})


def dashboard_totals(client, user):
    client.force_login(user)
    with time_machine.travel(WEDNESDAY, tick=False):
        client.get(reverse("dashboard-account"))  # the card asks the broker, whose rates the totals use
        return client.get(reverse("dashboard")).context["totals"]


def test_the_totals_convert_each_position_at_the_brokers_rate_and_count_the_multiplier(
    client, alice, broker_never_asked, book
):
    with time_machine.travel(WEDNESDAY, tick=False):
        eur = SimulatedAdapter().account_summary().exchange_rates["EUR"]

    totals = dashboard_totals(client, alice)

    assert totals.market_value == (D("21000.00") * eur).quantize(D("0.0001")) + D("501225.00")
    assert totals.unrealized_pnl == (D("1000.00") * eur).quantize(D("0.0001")) + D("1225.00")
    assert (totals.open_positions, totals.missing_rates) == (2, [])


def test_a_position_in_a_currency_without_a_rate_makes_the_totals_unknown_and_says_which(
    client, alice, broker_never_asked, book
):
    nesn = Instrument.objects.create(symbol="NESN", conid=39, primary_exchange="EBS", currency="CHF")
    apply_fill(make_order(alice, nesn, "BUY", 10), make_fill(10, "100"))

    totals = dashboard_totals(client, alice)
    html = client.get(reverse("dashboard")).content.decode()

    assert (totals.market_value, totals.unrealized_pnl, totals.missing_rates) == (None, None, ["CHF"])
    assert "No exchange rate for CHF" in html


def test_before_the_broker_is_first_asked_the_totals_are_unknown_not_unconverted(
    client, alice, broker_never_asked, book
):
    client.force_login(alice)

    totals = client.get(reverse("dashboard")).context["totals"]

    assert (totals.market_value, totals.unrealized_pnl) == (None, None)
