import pytest

from broker.models import Instrument
from tests.workflows.conftest import template_definition
from workflows.models import Strategy
from workflows.services import strategy_create, workflow_create


@pytest.fixture
def alice_strategy(alice, alice_workflow):
    Instrument.objects.create(symbol="AAPL", conid=265598)
    return strategy_create(owner=alice, name="Tech", workflow=alice_workflow, symbols=["AAPL"])


def test_owner_creates_a_strategy_with_symbols(alice_api, alice_workflow):
    response = alice_api.post(
        "/api/strategies/",
        {"name": "Growth", "workflow": alice_workflow.pk, "symbols": ["nvda", "MSFT"], "params": {"model": "gpt-4o"},
         "human_approval": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert sorted(body["symbols"]) == ["MSFT", "NVDA"]
    assert body["workflow"] == alice_workflow.pk
    assert body["params"] == {"model": "gpt-4o"}
    assert (body["active"], body["human_approval"], body["allow_live"]) == (True, True, False)


def test_bad_strategies_get_field_errors_and_change_nothing(alice_api, bob, alice_workflow):
    bobs = workflow_create(owner=bob, name="Bob's", **template_definition())
    response = alice_api.post("/api/strategies/", {"name": "x", "workflow": bobs.pk}, format="json")
    assert response.status_code == 400
    assert "workflow" in response.json()
    response = alice_api.post("/api/strategies/", {"name": "x", "workflow": alice_workflow.pk,
                                                    "params": {"nope": 1}, "symbols": ["$$$"]}, format="json")
    assert response.status_code == 400
    assert "params" in response.json()
    assert not Strategy.objects.exists()


def test_owner_updates_and_deletes(alice_api, alice_strategy):
    url = f"/api/strategies/{alice_strategy.pk}/"
    patched = alice_api.patch(url, {"symbols": ["IBM"], "active": False}, format="json")
    assert patched.status_code == 200
    assert patched.json()["symbols"] == ["IBM"]
    assert patched.json()["active"] is False
    legacy = alice_api.patch(url, {"workflow": None, "params": {"period_1": "2y"}}, format="json")
    assert legacy.status_code == 200
    assert legacy.json()["workflow"] is None
    assert alice_api.delete(url).status_code == 204
    assert not Strategy.objects.exists()


def test_list_filters_by_active_and_workflow(alice, alice_api, alice_strategy):
    strategy_create(owner=alice, name="Legacy", active=False)
    assert [row["name"] for row in alice_api.get("/api/strategies/?active=false").json()["results"]] == ["Legacy"]
    by_workflow = alice_api.get(f"/api/strategies/?workflow={alice_strategy.workflow_id}").json()["results"]
    assert [row["name"] for row in by_workflow] == ["Tech"]


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_trader_gets_404(bob_api, alice_strategy, method):
    response = getattr(bob_api, method)(f"/api/strategies/{alice_strategy.pk}/", {"name": "mine"}, format="json")
    assert response.status_code == 404
    assert Strategy.objects.get(pk=alice_strategy.pk).name == "Tech"
    assert bob_api.get("/api/strategies/").json()["count"] == 0


def test_staff_see_every_strategy(staff_api, alice_strategy):
    assert staff_api.get(f"/api/strategies/{alice_strategy.pk}/").json()["symbols"] == ["AAPL"]


def test_anonymous_callers_are_refused(api_client, alice_strategy):
    assert api_client.get("/api/strategies/").status_code in (401, 403)
    assert api_client.post("/api/strategies/", {"name": "x"}, format="json").status_code in (401, 403)
