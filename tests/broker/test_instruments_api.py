"""Instruments are shared reference data: every trader reads them, staff write them, anyone may qualify."""

import pytest

from broker.models import Instrument
from broker.simulation import conid_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def apple():
    return Instrument.objects.create(symbol="AAPL", conid=265598, name="APPLE INC", exchange="SMART")


def test_it_requires_authentication(api_client, apple):
    assert api_client.get("/api/instruments/").status_code in (401, 403)


def test_traders_read_and_search_instruments(alice_api, bob_api, apple):
    Instrument.objects.create(symbol="MSFT", conid=272093, name="MICROSOFT CORP")

    assert alice_api.get("/api/instruments/").json()["count"] == 2
    found = bob_api.get("/api/instruments/?search=micro").json()["results"]
    assert [row["symbol"] for row in found] == ["MSFT"]
    assert alice_api.get(f"/api/instruments/{apple.pk}/").json()["conid"] == 265598


def test_traders_cannot_change_instruments(alice_api, apple):
    assert alice_api.post("/api/instruments/", {"symbol": "IBM", "conid": 8314}).status_code == 403
    assert alice_api.patch(f"/api/instruments/{apple.pk}/", {"name": "x"}).status_code == 403
    assert alice_api.delete(f"/api/instruments/{apple.pk}/").status_code == 403
    assert Instrument.objects.get(pk=apple.pk).name == "APPLE INC"


def test_staff_create_update_and_delete_instruments(staff_api):
    created = staff_api.post("/api/instruments/", {"symbol": "ibm", "conid": 8314, "name": "IBM"})
    assert created.status_code == 201 and created.json()["symbol"] == "IBM"
    pk = created.json()["id"]
    assert staff_api.patch(f"/api/instruments/{pk}/", {"name": "INTL BUSINESS MACHINES"}).status_code == 200
    assert staff_api.delete(f"/api/instruments/{pk}/").status_code == 204
    assert not Instrument.objects.filter(pk=pk).exists()


def test_a_duplicate_conid_is_a_field_error(staff_api, apple):
    response = staff_api.post("/api/instruments/", {"symbol": "AAPL2", "conid": 265598})
    assert response.status_code == 400 and "conid" in response.json()


def test_qualify_stores_the_brokers_contract_once(alice_api):
    first = alice_api.post("/api/instruments/qualify/", {"symbol": "nvda"}, format="json")
    second = alice_api.post("/api/instruments/qualify/", {"symbol": "NVDA"}, format="json")

    assert first.status_code == 200 and first.json()["conid"] == conid_for("NVDA")
    assert second.json()["id"] == first.json()["id"]
    assert Instrument.objects.filter(symbol="NVDA").count() == 1


def test_qualify_refuses_what_is_not_a_symbol(alice_api):
    response = alice_api.post("/api/instruments/qualify/", {"symbol": "not a symbol!"}, format="json")
    assert response.status_code == 400 and "symbol" in response.json()
    assert not Instrument.objects.exists()


def test_authenticate_reports_the_adapter_status(alice_api):
    body = alice_api.get("/api/authenticate/").json()
    assert body["authenticated"] is True and body["paper"] is True
    assert body["mode"] == "paper" and body["adapter"] == "simulated" and body["account"]
