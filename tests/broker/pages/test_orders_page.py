"""The orders page lists the trader's own active orders and history, filtered and paginated."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from broker.models import Order
from tests.broker.pages.conftest import working_order
from tests.broker.portfolio.conftest import make_order


def test_active_orders_carry_a_cancel_button_and_history_does_not(alice_client, alice, alice_history, simulated_stock):
    working = working_order(alice, simulated_stock)
    html = alice_client.get(reverse("orders")).content.decode()
    assert f'data-cancel-order="{working.pk}"' in html
    assert f'data-order="{alice_history.order.pk}"' in html
    assert f'data-cancel-order="{alice_history.order.pk}"' not in html


def test_a_trader_sees_only_their_own_orders(alice_client, alice_history, bob_history):
    html = alice_client.get(reverse("orders")).content.decode()
    assert f'data-order="{alice_history.order.pk}"' in html
    assert f'data-order="{bob_history.order.pk}"' not in html


def test_the_active_list_refreshes_states_from_the_broker(alice_client, alice, simulated_stock):
    working = working_order(alice, simulated_stock)
    html = alice_client.get(reverse("orders-active")).content.decode()
    assert f'data-order="{working.pk}"' in html
    assert "1 open" in html


def test_history_filters_by_status_symbol_and_dates(alice_client, alice, alice_history):
    stock = alice_history.order.instrument
    cancelled = make_order(alice, stock, "SELL", 3, price="120", status=Order.Status.CANCELLED)
    old = make_order(alice, stock, "BUY", 4, status=Order.Status.REJECTED)
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))

    def listed(**params):
        html = alice_client.get(reverse("orders"), params).content.decode()
        return {pk for pk in (alice_history.order.pk, cancelled.pk, old.pk) if f'data-order="{pk}"' in html}

    assert listed(status="cancelled") == {cancelled.pk}
    assert listed(symbol="aapl") == {alice_history.order.pk, cancelled.pk, old.pk}
    assert listed(symbol="MSFT") == set()
    assert listed(until=(timezone.now() - timedelta(days=30)).date().isoformat()) == {old.pk}
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert listed(since=yesterday) == {alice_history.order.pk, cancelled.pk}


def test_a_backwards_date_range_is_an_error_and_filters_nothing_by_it(alice_client, alice_history):
    html = alice_client.get(reverse("orders"), {"since": "2026-03-10", "until": "2026-03-01"}).content.decode()
    assert "The end date is before the start date." in html


def test_an_empty_filtered_history_says_what_to_do(alice_client, alice_history):
    html = alice_client.get(reverse("orders"), {"symbol": "ZZZZ"}).content.decode()
    assert "No orders match these filters" in html
    assert "clear the filters" in html


def test_history_is_paginated(alice_client, alice, alice_history):
    for _ in range(30):
        make_order(alice, alice_history.order.instrument, "BUY", 1)
    first = alice_client.get(reverse("orders")).content.decode()
    second = alice_client.get(reverse("orders"), {"page": 2}).content.decode()
    assert first.count("data-order=") == 25
    assert second.count("data-order=") == 6
    assert "Page 2 of 2" in second
