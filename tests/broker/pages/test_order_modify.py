"""Changing a working order from the orders page: a new quantity and limit price reach the broker
as a change to the same order; bad input and finished orders answer with the reason in a toast."""

import json
from decimal import Decimal

from django.urls import reverse

from broker.models import Order, SimulatedOrder
from tests.broker.pages.conftest import HTMX, working_order


def modify(client, order, **fields):
    return client.post(reverse("order-modify", args=[order.pk]), fields, **HTMX)


def test_the_orders_page_offers_a_change_form_for_a_working_limit_order(client, alice, simulated_stock):
    order = working_order(alice, simulated_stock)
    client.force_login(alice)
    html = client.get(reverse("orders")).content.decode()
    assert f'data-modify-order="{order.pk}"' in html


def test_the_owner_changes_quantity_and_price_of_a_working_order(client, alice, simulated_stock):
    order = working_order(alice, simulated_stock)
    client.force_login(alice)

    response = modify(client, order, quantity="9", price="1.25")

    assert response.status_code == 200
    trigger = json.loads(response["HX-Trigger"])
    assert trigger["toast"]["kind"] == "success" and "@ 1.25" in trigger["toast"]["message"]
    order.refresh_from_db()
    assert (order.quantity, order.limit_price, order.status) == (9, Decimal("1.25"), Order.Status.SUBMITTED)
    at_exchange = SimulatedOrder.objects.get(pk=int(order.broker_order_id))
    assert (at_exchange.quantity, at_exchange.limit_price) == (9, Decimal("1.25"))


def test_a_fractional_quantity_is_refused_with_the_reason_and_nothing_changes(client, alice, simulated_stock):
    order = working_order(alice, simulated_stock)
    client.force_login(alice)

    response = modify(client, order, quantity="2.5")

    assert response.status_code == 400
    assert "whole number" in json.loads(response["HX-Trigger"])["toast"]["message"]
    assert SimulatedOrder.objects.get(pk=int(order.broker_order_id)).quantity == order.quantity


def test_another_trader_gets_404(client, alice, bob, simulated_stock):
    order = working_order(alice, simulated_stock)
    client.force_login(bob)
    assert modify(client, order, quantity="9").status_code == 404
