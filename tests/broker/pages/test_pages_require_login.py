"""Every account page and action sends anonymous visitors to the login page and does nothing."""

import pytest
from django.urls import reverse

from broker.models import Order

PAGES = ["orders", "orders-active", "portfolio", "portfolio-live", "charts", "analytics"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_it_sends_anonymous_visitors_to_the_login_page(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_anonymous_posts_place_and_cancel_nothing(client, alice_history):
    order = alice_history.order
    order.status = Order.Status.SUBMITTED
    order.save()
    place = client.post(reverse("order-place"), {"symbol": "AAPL", "side": "BUY", "quantity": "1", "order_type": "MKT"})
    cancel = client.post(reverse("order-cancel", args=[order.pk]))
    data = client.get(reverse("chart-data", args=[order.instrument.conid]))
    assert (place.status_code, cancel.status_code, data.status_code) == (302, 302, 302)
    assert Order.objects.count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.SUBMITTED


@pytest.mark.parametrize("name", PAGES)
def test_it_renders_every_page_for_a_trader_with_no_history(client, alice, name, settings):
    settings.BROKER_ADAPTER = "simulated"
    client.force_login(alice)
    assert client.get(reverse(name)).status_code == 200
