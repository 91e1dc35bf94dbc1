"""POST /api/portfolio/reconcile/: a trader reconciles their own book, staff everyone's (or one trader's)."""

import pytest

from broker.models import Alert, Order
from execution.models import Notification

from .conftest import new_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def simulated_broker(settings):
    settings.BROKER_ADAPTER = "simulated"


@pytest.fixture
def lost_orders(alice, bob, sim_aapl):
    """One order of alice's and one of bob's that never reached the broker."""
    orders = {}
    for owner in (alice, bob):
        order = new_order(owner, sim_aapl, status=Order.Status.NEEDS_RECONCILIATION)
        order.save()
        orders[owner.username] = order
    return orders


def test_a_trader_reconciles_only_their_own_orders_and_is_told(alice, alice_api, lost_orders):
    response = alice_api.post("/api/portfolio/reconcile/")

    assert response.status_code == 200
    body = response.json()
    assert [d["order_id"] for d in body["discrepancies"]] == [lost_orders["alice"].pk]
    assert Alert.objects.get().owner == alice
    assert Notification.objects.get().kind == "discrepancy"


def test_a_trader_cannot_reconcile_someone_else_by_asking(alice_api, lost_orders, bob):
    body = alice_api.post(f"/api/portfolio/reconcile/?owner={bob.pk}").json()

    assert [d["order_id"] for d in body["discrepancies"]] == [lost_orders["alice"].pk]


def test_staff_reconcile_everyone_or_one_trader(staff_api, lost_orders, bob):
    everyone = staff_api.post("/api/portfolio/reconcile/").json()
    bobs = staff_api.post(f"/api/portfolio/reconcile/?owner={bob.pk}").json()

    assert sorted(d["order_id"] for d in everyone["discrepancies"]) == sorted(o.pk for o in lost_orders.values())
    assert [d["order_id"] for d in bobs["discrepancies"]] == [lost_orders["bob"].pk]


def test_reconcile_requires_login(api_client):
    assert api_client.post("/api/portfolio/reconcile/").status_code in (401, 403)
