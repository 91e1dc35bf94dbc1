"""The web process in IBKR mode: daphne, as the Procfile runs it, against the gateway simulator.

daphne runs the sync API views in its thread pool, where ib_insync could not even be imported
(no event loop in those threads): every broker page answered 500. Here the real server runs
in its own OS process with BROKER_ADAPTER=ibkr, and a trader reads the portfolio, places a
manual order and cancels it over HTTP.
"""

from decimal import Decimal

import pytest

from broker.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_web_server_reads_the_portfolio_places_and_cancels_an_order_through_ibkr(web, trader, gateway):
    for path in ("/api/portfolio/", "/api/portfolio/positions/", "/api/portfolio/risk/"):
        answer = trader.get(web.url + path, timeout=60)
        assert answer.status_code == 200, (path, answer.text, web.log_tail())
    assert trader.get(web.url + "/api/portfolio/", timeout=60).json()["paper"] is True

    placed = trader.post(
        web.url + "/api/orders/",
        json={"symbol": "SLOW", "side": "BUY", "quantity": "3", "order_type": "LMT", "price": "20.00"},
        timeout=60,
    )
    assert placed.status_code == 201, (placed.text, web.log_tail())
    assert placed.json()["status"] == Order.Status.SUBMITTED
    key = placed.json()["idempotency_key"]
    [at_gateway] = [record for record in gateway.orders.values() if record.order_ref == key]
    assert at_gateway.quantity == Decimal("3")

    cancelled = trader.delete(f"{web.url}/api/orders/{placed.json()['id']}/", timeout=60)
    assert cancelled.status_code == 200, (cancelled.text, web.log_tail())
    assert cancelled.json()["status"] == Order.Status.CANCELLED
    assert at_gateway.status == "Cancelled"
