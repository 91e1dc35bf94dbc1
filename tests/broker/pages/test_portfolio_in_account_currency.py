"""The portfolio page names each position's currency and the broker's rate, and says which totals are unknown."""

from dataclasses import asdict

import time_machine
from django.urls import reverse

from broker.adapters.simulated import SimulatedAdapter
from broker.models import Instrument
from broker.portfolio import apply_fill
from tests.broker.conftest import WEDNESDAY
from tests.broker.portfolio.conftest import make_fill, make_order


def test_a_euro_position_shows_its_currency_and_rate_and_a_won_one_makes_totals_unknown(client, alice):
    adapter = SimulatedAdapter()
    with time_machine.travel(WEDNESDAY, tick=False):
        sap = Instrument.objects.create(**asdict(adapter.qualify("SAP")))
        samsung = Instrument.objects.create(symbol="005930", conid=13918, primary_exchange="KSE", currency="KRW")
        apply_fill(make_order(alice, sap, "BUY", 10), make_fill(10, "200.00"))
        rate = adapter.account_summary().exchange_rates["EUR"]
        client.force_login(alice)
        html = client.get(reverse("portfolio-live")).content.decode()
        apply_fill(make_order(alice, samsung, "BUY", 1), make_fill(1, "3000"))
        with_won = client.get(reverse("portfolio-live")).content.decode()

    assert f"EUR @ {rate.normalize()}" in html and "data-missing-rates" not in html
    assert "KRW · no rate" in with_won
    assert "no exchange rate to USD for KRW" in with_won
