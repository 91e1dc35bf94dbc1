"""Cancelling from the orders page: the owner (or staff) cancels, another trader cannot see the order,
and a finished order answers 409 with the reason in a toast."""

import json

from django.urls import reverse

from broker.models import Order
from tests.broker.pages.conftest import HTMX, working_order


def cancel(client, order):
    return client.post(reverse("order-cancel", args=[order.pk]), **HTMX)


def test_the_owner_cancels_a_working_order(client, alice, simulated_stock):
    order = working_order(alice, simulated_stock)
    client.force_login(alice)
    response = cancel(client, order)
    order.refresh_from_db()
    assert response.status_code == 200
    assert order.status == Order.Status.CANCELLED
    trigger = json.loads(response["HX-Trigger"])
    assert trigger["toast"]["kind"] == "success" and "cancelled" in trigger["toast"]["message"]
    assert "orders-changed" in trigger


def test_another_trader_gets_404_and_the_order_keeps_working(client, alice, bob, simulated_stock):
    order = working_order(alice, simulated_stock)
    client.force_login(bob)
    assert cancel(client, order).status_code == 404
    order.refresh_from_db()
    assert order.status == Order.Status.SUBMITTED


def test_staff_may_cancel_any_traders_order(client, alice, staff, simulated_stock):
    order = working_order(alice, simulated_stock)
    client.force_login(staff)
    assert cancel(client, order).status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_a_filled_order_answers_409_with_the_reason(client, alice, alice_history):
    client.force_login(alice)
    response = cancel(client, alice_history.order)
    assert response.status_code == 409
    toast = json.loads(response["HX-Trigger"])["toast"]
    assert toast["kind"] == "error"
    assert toast["message"] == f"Order {alice_history.order.pk} is already filled; it cannot be cancelled."
    alice_history.order.refresh_from_db()
    assert alice_history.order.status == Order.Status.FILLED


def test_cancel_accepts_only_post(client, alice, simulated_stock):
    order = working_order(alice, simulated_stock)
    client.force_login(alice)
    assert client.get(reverse("order-cancel", args=[order.pk])).status_code == 405
    order.refresh_from_db()
    assert order.status == Order.Status.SUBMITTED
