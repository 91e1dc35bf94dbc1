"""Staff see every broker model in the admin, and the global risk limits are one editable row."""

import pytest
from django.test import Client

from broker.models import RiskLimits

pytestmark = pytest.mark.django_db

MODELS = [
    "instrument",
    "marketdata",
    "chart",
    "order",
    "fill",
    "trade",
    "position",
    "simulatedaccount",
    "simulatedorder",
    "simulatedexecution",
    "simulatedposition",
]


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.mark.parametrize("model", MODELS)
def test_every_broker_model_has_a_working_list(staff_client, model):
    assert staff_client.get(f"/admin/broker/{model}/?q=AAPL").status_code == 200


def test_risk_limits_list_opens_the_single_row(staff_client):
    response = staff_client.get("/admin/broker/risklimits/")
    assert response.status_code == 302
    assert response.url.endswith(f"/admin/broker/risklimits/{RiskLimits.current().pk}/change/")
    assert RiskLimits.objects.count() == 1


def test_staff_turn_the_kill_switch_on(staff_client, staff):
    limits = RiskLimits.current()
    form = {
        "kill_switch": "on",
        "kill_switch_reason": "Gateway misbehaving",
        "risk_per_trade": "0.02",
        "max_position_pct": "0.20",
        "max_exposure_pct": "0.95",
        "max_open_positions": "20",
        "min_r_coefficient": "1.0",
        "max_price_deviation": "0.01",
    }
    response = staff_client.post(f"/admin/broker/risklimits/{limits.pk}/change/", form)

    assert response.status_code == 302
    limits.refresh_from_db()
    assert limits.kill_switch and limits.kill_switch_reason == "Gateway misbehaving"
    assert limits.updated_by == staff
    assert staff_client.get("/admin/broker/risklimits/add/").status_code == 403


def test_traders_are_kept_out(alice):
    client = Client()
    client.force_login(alice)
    assert client.get("/admin/broker/risklimits/").status_code == 302  # to the admin login
