"""Fixtures of the account pages: orders on the simulated broker (seeded histories: tests/support/seed.py)."""

import pytest

from broker.adapters.simulated import SimulatedAdapter
from broker.instruments import qualify_symbol


@pytest.fixture
def simulated_stock(db, settings):
    """A symbol the simulated broker knows (its conid is the simulated one, so quotes and orders match)."""
    settings.BROKER_ADAPTER = "simulated"
    settings.TRADING_MODE = "paper"
    return qualify_symbol("KO")


def working_order(owner, instrument):
    """A buy far under the market: it rests at the broker until cancelled."""
    from broker.orders import order_place_manual

    return order_place_manual(
        owner=owner,
        instrument=instrument,
        side="BUY",
        quantity=1,
        order_type="LMT",
        limit_price=1,
        tif="GTC",
        adapter=SimulatedAdapter(),
    )


HTMX = {"HTTP_HX_REQUEST": "true"}
