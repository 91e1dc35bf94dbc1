"""IBKR_MARKET_DATA_TYPE: the adapter asks for it (reqMarketDataType) and says which kind priced each quote."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from broker.gateway_sim import MarketClock
from broker.instruments import qualify_symbol
from broker.models import Position
from broker.simulation import SimulatedExchange
from tradingweb.settings import env_choice

from .conftest import MARKET_START


@pytest.mark.parametrize("data_type", ["live", "delayed"])
def test_positions_are_priced_by_the_configured_market_data_type_and_say_so(
    ibkr_broker, settings, alice, alice_api, data_type
):
    settings.IBKR_MARKET_DATA_TYPE = data_type
    ibkr_broker.clock = MarketClock(start=MARKET_START, speed=1e-9)  # the market stands still
    priced_at = {"live": MARKET_START, "delayed": MARKET_START - timedelta(minutes=15)}
    prices = {kind: SimulatedExchange().price("SLOW", moment) for kind, moment in priced_at.items()}
    assert prices["live"] != prices["delayed"]
    instrument = qualify_symbol("SLOW")
    Position.objects.create(
        owner=alice, instrument=instrument, quantity=Decimal("10"), average_cost=Decimal("60"),
        cost_basis=Decimal("600"),
    )  # fmt: skip

    answer = alice_api.get("/api/portfolio/positions/")

    assert answer.status_code == 200, answer.content
    [row] = answer.json()["positions"]
    assert row["market_data_type"] == data_type
    assert Decimal(row["current_price"]) == prices[data_type]


def test_an_unknown_market_data_type_stops_the_app_at_start(monkeypatch):
    monkeypatch.setenv("IBKR_MARKET_DATA_TYPE", "realtime")
    with pytest.raises(ImproperlyConfigured, match="IBKR_MARKET_DATA_TYPE must be one of live, frozen, delayed"):
        env_choice("IBKR_MARKET_DATA_TYPE", "live", ("live", "frozen", "delayed", "delayed_frozen"))
