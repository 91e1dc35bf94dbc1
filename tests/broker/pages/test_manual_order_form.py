"""The manual order form places an order through broker.orders; anything it refuses changes nothing."""

import json
from html import unescape

import pytest
from django.urls import reverse

from broker.models import Order, RiskLimits
from tests.broker.pages.conftest import HTMX


def post_order(client, **fields):
    data = {"symbol": "KO", "side": "BUY", "quantity": "2", "order_type": "LMT", "price": "1.00", "tif": "GTC"}
    data.update(fields)
    return client.post(reverse("order-place"), data, **HTMX)


def toast(response):
    return json.loads(response["HX-Trigger"])["toast"]


def test_it_places_a_limit_order_and_says_so_in_a_toast(alice_client, alice, simulated_stock):
    response = post_order(alice_client)
    order = Order.objects.get()
    assert (order.owner, order.instrument, order.side, order.quantity) == (alice, simulated_stock, "BUY", 2)
    assert (order.order_type, order.limit_price, order.tif) == ("LMT", 1, "GTC")
    assert order.status == Order.Status.SUBMITTED and order.broker_order_id
    assert toast(response)["kind"] == "success"
    assert f"Order #{order.pk} sent" in toast(response)["message"]
    assert "orders-changed" in json.loads(response["HX-Trigger"])


def test_a_repeated_submission_of_one_form_places_one_order(alice_client, simulated_stock):
    post_order(alice_client, idempotency_key="form-abc")
    post_order(alice_client, idempotency_key="form-abc")
    assert Order.objects.count() == 1


def test_a_market_order_needs_no_price(alice_client, simulated_stock):
    post_order(alice_client, order_type="MKT", price="")
    assert Order.objects.get().order_type == "MKT"


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"quantity": "0"}, "quantity", "greater than or equal to 1"),
        ({"quantity": "1.5"}, "quantity", "whole number of shares"),
        ({"quantity": ""}, "quantity", "required"),
        ({"price": ""}, "price", "A LMT order needs a positive price."),
        ({"price": "-3"}, "price", "A LMT order needs a positive price."),
        ({"order_type": "MKT", "price": "10"}, "price", "A MKT order takes no price"),
        ({"symbol": ""}, "symbol", "Give the instrument's symbol or conid."),
        ({"symbol": "NOT A SYMBOL!"}, "symbol", "Unknown instrument"),
        ({"side": "HOLD"}, "side", "HOLD is not one of the available choices"),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_places_nothing(alice_client, simulated_stock, fields, field, message):
    response = post_order(alice_client, **fields)
    html = unescape(response.content.decode())
    assert response.status_code == 200
    assert f'id="order_{field}_error"' in html
    assert message in html
    assert Order.objects.count() == 0


def test_the_kill_switch_refusal_is_a_form_error(alice_client, simulated_stock):
    limits = RiskLimits.current()
    limits.kill_switch, limits.kill_switch_reason = True, "desk review"
    limits.save()
    html = post_order(alice_client).content.decode()
    assert "data-form-errors" in html
    assert "halted by the kill switch (desk review)" in html
    assert Order.objects.count() == 0


def test_the_position_cap_refusal_is_a_form_error(alice_client, simulated_stock):
    html = post_order(alice_client, quantity="1000", price="500").content.decode()
    assert "data-form-errors" in html
    assert "above the cap" in html
    assert Order.objects.count() == 0


def test_in_live_mode_the_form_asks_for_a_confirmation_before_the_live_guard(alice_client, simulated_stock, settings):
    assert "confirm_live" not in alice_client.get(reverse("orders")).content.decode()
    settings.TRADING_MODE = "live"
    assert 'name="confirm_live"' in alice_client.get(reverse("orders")).content.decode()

    unconfirmed = post_order(alice_client).content.decode()
    assert 'id="order_confirm_live_error"' in unconfirmed and "real-money account" in unconfirmed

    confirmed = post_order(alice_client, confirm_live="on").content.decode()
    assert "TRADING_MODE is live but broker account" in confirmed
    assert Order.objects.count() == 0


def test_without_htmx_the_page_redirects_with_a_message_or_shows_the_errors(alice_client, simulated_stock):
    placed = alice_client.post(
        reverse("order-place"),
        {"symbol": "KO", "side": "SELL", "quantity": "1", "order_type": "LMT", "price": "9999", "tif": "DAY"},
    )
    assert placed.status_code == 302 and placed["Location"] == reverse("orders")
    refused = alice_client.post(reverse("order-place"), {"symbol": "KO", "side": "BUY", "quantity": "0"})
    assert refused.status_code == 200
    assert 'id="order_quantity_error"' in refused.content.decode()
    assert Order.objects.count() == 1
