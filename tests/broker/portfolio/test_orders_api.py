"""The orders API: owners place, list, read and cancel their own orders; others get 404; staff see all."""

from decimal import Decimal

import pytest

from broker.adapters.base import BrokerUnavailable
from broker.adapters.simulated import SimulatedAdapter
from broker.models import Order, RiskLimits, SimulatedOrder
from broker.orders import order_submit
from tests.broker.portfolio.conftest import let_market_trade, new_order

RESTING_BUY = {"symbol": "AAPL", "side": "BUY", "quantity": 3, "price": "0.01", "order_type": "LMT", "tif": "GTC"}


@pytest.fixture
def alices_order(alice, adapter, sim_aapl):
    return order_submit(new_order(alice, sim_aapl, order_type="LMT", price="0.01"), adapter=adapter)


class UnreachableGateway(SimulatedAdapter):
    """What the API meets when IB Gateway is down: every broker call fails."""

    def account_summary(self):
        raise BrokerUnavailable("IB Gateway is not reachable at 127.0.0.1:4002", code=502)

    def order_status(self, broker_order_id):
        raise BrokerUnavailable("IB Gateway is not reachable at 127.0.0.1:4002", code=502)


def test_an_owner_places_a_manual_limit_order(alice_api, alice, sim_aapl):
    response = alice_api.post("/api/orders/", RESTING_BUY, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["symbol"], body["conid"], body["side"], body["status"]) == ("AAPL", sim_aapl.conid, "BUY", "submitted")
    assert Decimal(body["quantity"]) == 3 and Decimal(body["price"]) == Decimal("0.01") and body["broker_order_id"]
    assert Order.objects.get(pk=body["id"]).owner == alice


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": None}, "price"),
        ({"price": "-5"}, "price"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": "1.5"}, "quantity"),
        ({"symbol": "NOT A TICKER"}, "symbol"),
        ({"side": "HOLD"}, "side"),
        ({"order_type": "MKT"}, "price"),  # a market order with a price
    ],
)
def test_bad_orders_get_field_errors_and_change_nothing(alice_api, sim_aapl, change, field):
    response = alice_api.post("/api/orders/", {**RESTING_BUY, **change}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Order.objects.exists()


def test_an_unknown_conid_is_a_field_error(alice_api, sim_aapl):
    order = {**RESTING_BUY, "conid": 1}
    del order["symbol"]

    response = alice_api.post("/api/orders/", order, format="json")

    assert response.status_code == 400 and "Unknown instrument conid 1" in response.json()["conid"][0]


def test_the_kill_switch_refuses_a_manual_order_with_its_reason(alice_api, sim_aapl):
    RiskLimits.objects.update_or_create(pk=1, defaults={"kill_switch": True, "kill_switch_reason": "Broker outage"})

    response = alice_api.post("/api/orders/", RESTING_BUY, format="json")

    assert response.status_code == 403
    assert "kill switch (Broker outage)" in response.json()["detail"]
    assert not Order.objects.exists()


def test_in_live_mode_a_manual_order_needs_the_trader_s_confirmation(alice_api, sim_aapl, settings):
    settings.TRADING_MODE = "live"

    unconfirmed = alice_api.post("/api/orders/", RESTING_BUY, format="json")

    assert unconfirmed.status_code == 400
    assert "real-money account" in unconfirmed.json()["confirm_live"][0]
    assert not Order.objects.exists()
    # Confirmed, it meets the live guard: the simulated exchange is a paper account.
    confirmed = alice_api.post("/api/orders/", {**RESTING_BUY, "confirm_live": True}, format="json")
    assert confirmed.status_code == 403
    assert "is a paper account" in confirmed.json()["detail"]
    assert not Order.objects.exists()


def test_orders_list_shows_only_the_callers_orders_newest_first(
    alice_api, bob_api, staff_api, alice, bob, adapter, sim_aapl
):
    first = order_submit(new_order(alice, sim_aapl, order_type="LMT", price="0.01"), adapter=adapter)
    second = order_submit(new_order(alice, sim_aapl, order_type="LMT", price="0.02"), adapter=adapter)
    bobs = order_submit(new_order(bob, sim_aapl, order_type="LMT", price="0.03"), adapter=adapter)

    assert [o["id"] for o in alice_api.get("/api/orders/").json()["results"]] == [second.pk, first.pk]
    assert [o["id"] for o in bob_api.get("/api/orders/").json()["results"]] == [bobs.pk]
    assert {o["id"] for o in staff_api.get("/api/orders/").json()["results"]} == {first.pk, second.pk, bobs.pk}


def test_orders_list_filters_by_status_symbol_and_dates(alice_api, alice, adapter, sim_aapl, msft):
    resting = order_submit(new_order(alice, sim_aapl, order_type="LMT", price="0.01"), adapter=adapter)
    Order.objects.create(
        owner=alice, instrument=msft, side="SELL", quantity=1, idempotency_key="k-msft", status="filled"
    )

    def ids(query):
        return [o["id"] for o in alice_api.get(f"/api/orders/?{query}").json()["results"]]

    assert ids("status=submitted") == [resting.pk]
    assert ids("symbol=aapl") == [resting.pk]
    assert len(ids("since=2000-01-01")) == 2
    assert ids("until=2000-01-01") == []


def test_order_detail_and_cancel_answer_404_to_another_trader(bob_api, alices_order):
    assert bob_api.get(f"/api/orders/{alices_order.pk}/").status_code == 404
    assert bob_api.delete(f"/api/orders/{alices_order.pk}/").status_code == 404
    alices_order.refresh_from_db()
    assert alices_order.status == Order.Status.SUBMITTED


def test_anonymous_callers_are_refused(api_client, alices_order):
    assert api_client.get("/api/orders/").status_code in (401, 403)
    assert api_client.get(f"/api/orders/{alices_order.pk}/").status_code in (401, 403)
    assert api_client.post("/api/orders/", RESTING_BUY, format="json").status_code in (401, 403)


def test_staff_read_any_order(staff_api, alices_order):
    response = staff_api.get(f"/api/orders/{alices_order.pk}/")

    assert response.status_code == 200 and response.json()["id"] == alices_order.pk


def test_order_detail_refreshes_an_open_order_from_the_broker(alice_api, alice, adapter, sim_aapl):
    order = order_submit(new_order(alice, sim_aapl, quantity=2), adapter=adapter)
    let_market_trade(adapter)

    body = alice_api.get(f"/api/orders/{order.pk}/").json()

    assert body["status"] == "filled" and Decimal(body["filled_quantity"]) == 2 and body["avg_fill_price"]


def test_the_owner_cancels_and_a_second_cancel_is_a_409(alice_api, alices_order):
    response = alice_api.delete(f"/api/orders/{alices_order.pk}/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"

    again = alice_api.delete(f"/api/orders/{alices_order.pk}/")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]


def test_cancelling_a_filled_order_is_a_409(alice_api, alice, sim_aapl):
    filled = Order.objects.create(
        owner=alice, instrument=sim_aapl, side="BUY", quantity=1, idempotency_key="k-filled", status="filled"
    )

    response = alice_api.delete(f"/api/orders/{filled.pk}/")

    assert response.status_code == 409 and "already filled" in response.json()["detail"]


def test_broker_failures_answer_502_with_the_brokers_message(alice_api, alices_order, monkeypatch):
    monkeypatch.setattr("broker.adapters.get_adapter", UnreachableGateway)

    placing = alice_api.post("/api/orders/", RESTING_BUY, format="json")
    reading = alice_api.get(f"/api/orders/{alices_order.pk}/")

    assert placing.status_code == 502 and "IB Gateway is not reachable" in placing.json()["detail"]
    assert reading.status_code == 502 and "IB Gateway is not reachable" in reading.json()["detail"]


def test_a_repeated_idempotency_key_returns_the_first_order_instead_of_placing_another(alice_api, bob_api, sim_aapl):
    order = {**RESTING_BUY, "idempotency_key": "client-retry-42"}

    first = alice_api.post("/api/orders/", order, format="json").json()
    again = alice_api.post("/api/orders/", order, format="json").json()
    bobs = bob_api.post("/api/orders/", order, format="json")

    assert again["id"] == first["id"] and Order.objects.count() == 1
    assert bobs.status_code == 409


def test_the_owner_changes_a_working_orders_quantity_and_price(alice_api, alices_order):
    response = alice_api.patch(f"/api/orders/{alices_order.pk}/", {"quantity": 7, "price": "0.02"}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (Decimal(body["quantity"]), Decimal(body["price"]), body["status"]) == (7, Decimal("0.02"), "submitted")
    at_exchange = SimulatedOrder.objects.get(pk=int(alices_order.broker_order_id))
    assert (at_exchange.quantity, at_exchange.limit_price) == (7, Decimal("0.02"))
    assert body["broker_order_id"] == alices_order.broker_order_id  # the same order, not a new one


@pytest.mark.parametrize(
    ("change", "field"),
    [({}, "quantity"), ({"quantity": "2.5"}, "quantity"), ({"quantity": 0}, "quantity"), ({"price": "-1"}, "price")],
)
def test_bad_changes_get_field_errors_and_change_nothing(alice_api, alices_order, change, field):
    response = alice_api.patch(f"/api/orders/{alices_order.pk}/", change, format="json")

    assert response.status_code == 400 and field in response.json()
    at_exchange = SimulatedOrder.objects.get(pk=int(alices_order.broker_order_id))
    assert (at_exchange.quantity, at_exchange.limit_price) == (alices_order.quantity, alices_order.limit_price)


def test_a_market_order_takes_no_new_price(alice_api, alice, adapter, sim_aapl):
    order = Order.objects.create(
        owner=alice, instrument=sim_aapl, side="BUY", quantity=1, order_type="MKT", idempotency_key="k-mkt",
        status="submitted", broker_order_id="1",
    )  # fmt: skip

    response = alice_api.patch(f"/api/orders/{order.pk}/", {"price": "10"}, format="json")

    assert response.status_code == 400 and "no limit price" in response.json()["price"][0]


def test_changing_a_filled_order_is_a_409_and_another_traders_a_404(alice_api, bob_api, alice, sim_aapl):
    filled = Order.objects.create(
        owner=alice, instrument=sim_aapl, side="BUY", quantity=1, idempotency_key="k-filled", status="filled"
    )

    assert alice_api.patch(f"/api/orders/{filled.pk}/", {"quantity": 2}, format="json").status_code == 409
    assert bob_api.patch(f"/api/orders/{filled.pk}/", {"quantity": 2}, format="json").status_code == 404
