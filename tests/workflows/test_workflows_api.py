import pytest

from tests.workflows.conftest import template_definition
from workflows.models import Workflow
from workflows.services import strategy_create, workflow_update


def create_payload(**changes):
    return {"name": "API flow", "type": "single_timeframe", **template_definition("single_timeframe"), **changes}


def test_owner_creates_and_reads_a_workflow(alice_api):
    created = alice_api.post("/api/workflows/", create_payload(description="mine"), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["version"] == 1
    assert body["status"] == "draft"
    assert [step["id"] for step in body["steps"]] == [step["id"] for step in create_payload()["steps"]]
    assert set(body) >= {"id", "name", "description", "type", "status", "steps", "parameters", "version",
                         "created_at", "updated_at"}
    listed = alice_api.get("/api/workflows/").json()
    assert [workflow["id"] for workflow in listed["results"]] == [body["id"]]


def test_invalid_workflows_get_400_listing_every_error(alice_api):
    payload = create_payload()
    payload["steps"][0]["config"]["bar"] = "2d"
    payload["steps"] = [step for step in payload["steps"] if step["type"] != "validate_risk"]
    response = alice_api.post("/api/workflows/", payload, format="json")
    assert response.status_code == 400
    errors = {(error["step_id"], error["field"]) for error in response.json()["errors"]}
    assert errors == {("fetch_daily", "bar"), ("place_order", "type")}
    assert not Workflow.objects.exists()


def test_new_workflows_cannot_start_active(alice_api):
    response = alice_api.post("/api/workflows/", create_payload(status="active"), format="json")
    assert response.status_code == 400
    assert "status" in response.json()


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_trader_gets_404(bob_api, alice_workflow, method):
    response = getattr(bob_api, method)(f"/api/workflows/{alice_workflow.pk}/", {"name": "mine now"}, format="json")
    assert response.status_code == 404
    alice_workflow.refresh_from_db()
    assert alice_workflow.name == "Alice daily"
    assert alice_workflow.deleted_at is None


@pytest.mark.parametrize(
    "path",
    ["versions/", "versions/1/", "versions/1/diff/1/", "export/"],
)
def test_another_trader_cannot_read_versions_or_export(bob_api, alice_workflow, path):
    assert bob_api.get(f"/api/workflows/{alice_workflow.pk}/{path}").status_code == 404


@pytest.mark.parametrize("path", ["clone/", "activate/", "versions/1/revert/"])
def test_another_trader_cannot_act_on_the_workflow(bob_api, alice_workflow, path):
    assert bob_api.post(f"/api/workflows/{alice_workflow.pk}/{path}").status_code == 404
    assert Workflow.objects.count() == 1


def test_staff_see_everyones_workflows(staff_api, alice_workflow):
    assert staff_api.get(f"/api/workflows/{alice_workflow.pk}/").status_code == 200
    assert [workflow["id"] for workflow in staff_api.get("/api/workflows/").json()["results"]] == [alice_workflow.pk]


def test_anonymous_callers_are_refused(api_client, alice_workflow):
    assert api_client.get("/api/workflows/").status_code in (401, 403)
    assert api_client.get("/api/workflow-templates/").status_code in (401, 403)
    assert api_client.post("/api/workflows/validate/", {}, format="json").status_code in (401, 403)


def test_patching_steps_makes_a_version_and_renaming_does_not(alice_api, alice_workflow):
    renamed = alice_api.patch(f"/api/workflows/{alice_workflow.pk}/", {"name": "Renamed"}, format="json")
    assert renamed.status_code == 200
    assert renamed.json()["version"] == 1
    steps = alice_workflow.steps
    steps[0]["config"]["period"] = "2y"
    changed = alice_api.patch(f"/api/workflows/{alice_workflow.pk}/", {"steps": steps, "note": "2y"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["version"] == 2
    versions = alice_api.get(f"/api/workflows/{alice_workflow.pk}/versions/").json()
    assert [(version["number"], version["note"], version["created_by"]) for version in versions["results"]] == [
        (2, "2y", "alice"),
        (1, "Created", "alice"),
    ]


def test_version_detail_diff_and_revert(alice, alice_api, alice_workflow):
    steps = alice_workflow.steps
    steps[0]["config"]["period"] = "2y"
    workflow_update(workflow=alice_workflow, user=alice, steps=steps)
    base = f"/api/workflows/{alice_workflow.pk}"

    assert alice_api.get(f"{base}/versions/1/").json()["steps"][0]["config"]["period"] == "1y"
    assert alice_api.get(f"{base}/versions/9/").status_code == 404
    diff = alice_api.get(f"{base}/versions/1/diff/2/").json()
    assert diff["steps"]["modified"] == [
        {"id": "fetch_daily", "changes": [{"field": "config.period", "from": "1y", "to": "2y"}]}
    ]
    reverted = alice_api.post(f"{base}/versions/1/revert/")
    assert reverted.status_code == 200
    assert reverted.json()["version"] == 3
    assert reverted.json()["steps"][0]["config"]["period"] == "1y"
    assert alice_api.post(f"{base}/versions/9/revert/").status_code == 404


def test_clone_answers_the_copy(alice_api, alice_workflow):
    response = alice_api.post(f"/api/workflows/{alice_workflow.pk}/clone/")
    assert response.status_code == 201
    assert response.json()["name"] == "Alice daily (Copy)"
    assert response.json()["id"] != alice_workflow.pk


def test_delete_answers_409_with_the_strategies_using_it(alice, alice_api, alice_workflow):
    strategy = strategy_create(owner=alice, name="Tech", workflow=alice_workflow)
    response = alice_api.delete(f"/api/workflows/{alice_workflow.pk}/")
    assert response.status_code == 409
    assert response.json()["strategies"] == [{"id": strategy.pk, "name": "Tech"}]


def test_delete_is_soft_and_hides_the_workflow(alice_api, alice_workflow):
    assert alice_api.delete(f"/api/workflows/{alice_workflow.pk}/").status_code == 204
    assert alice_api.get(f"/api/workflows/{alice_workflow.pk}/").status_code == 404
    assert alice_api.get("/api/workflows/").json()["count"] == 0
    assert Workflow.objects.filter(pk=alice_workflow.pk).exists()


def test_list_filters_by_status_and_type(alice, alice_api, alice_workflow):
    alice_api.post("/api/workflows/", create_payload(name="Two", type="two_indicator",
                                                     **template_definition("two_indicator")), format="json")
    alice_api.post(f"/api/workflows/{alice_workflow.pk}/activate/")
    by_type = alice_api.get("/api/workflows/?type=two_indicator").json()["results"]
    assert [workflow["name"] for workflow in by_type] == ["Two"]
    active = alice_api.get("/api/workflows/?status=active").json()["results"]
    assert [workflow["id"] for workflow in active] == [alice_workflow.pk]
    assert alice_api.get("/api/workflows/?limit=1").json()["count"] == 2


def test_validate_reports_without_saving(alice_api):
    payload = template_definition("single_timeframe")
    assert alice_api.post("/api/workflows/validate/", payload, format="json").json() == {"valid": True, "errors": []}
    payload["steps"][0]["config"]["period"] = "{{lookback}}"
    body = alice_api.post("/api/workflows/validate/", payload, format="json").json()
    assert body["valid"] is False
    assert body["errors"][0]["step_id"] == "fetch_daily"
    assert body["errors"][0]["field"] == "period"
    assert not Workflow.objects.exists()


def test_activate_refuses_with_the_reasons(alice_api, alice):
    payload = create_payload()
    payload["steps"][-2]["config"]["risk_per_trade"] = 0.5
    created = alice_api.post("/api/workflows/", payload, format="json").json()
    response = alice_api.post(f"/api/workflows/{created['id']}/activate/")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "risk_per_trade"


def test_export_and_import_over_the_api(alice_api, bob_api, alice_workflow):
    exported = alice_api.get(f"/api/workflows/{alice_workflow.pk}/export/")
    assert exported.status_code == 200
    assert "attachment" in exported["Content-Disposition"]
    imported = bob_api.post("/api/workflows/import/?source=alice.json", exported.json(), format="json")
    assert imported.status_code == 201
    assert imported.json()["imported_from"] == "Imported from alice.json"
    assert imported.json()["steps"] == alice_workflow.steps
    broken = bob_api.post("/api/workflows/import/", {"name": "x", "steps": []}, format="json")
    assert broken.status_code == 400
    assert broken.json()["errors"]


def test_templates_and_step_types_are_listed(alice_api):
    templates = alice_api.get("/api/workflow-templates/").json()
    assert [template["type"] for template in templates] == [
        "two_indicator", "three_indicator", "single_timeframe", "autogen_multi_agent", "custom"
    ]
    assert set(templates[0]) == {"type", "name", "description", "steps", "parameters", "diagram"}
    assert alice_api.get("/api/workflow-templates/custom/").json()["name"] == "Custom"
    assert alice_api.get("/api/workflow-templates/nope/").status_code == 404
    step_types = {step_type["type"]: step_type for step_type in alice_api.get("/api/workflow-step-types/").json()}
    assert step_types["validate_risk"]["defaults"] == {
        "min_r_coefficient": 1.0, "min_profit_margin": 0.05, "risk_per_trade": 0.01, "max_position_pct": 0.10,
        "max_exposure_pct": 0.90, "max_open_positions": 10, "max_price_deviation": 0.01,
    }
    assert step_types["fetch_data"]["schema"]["properties"]["bar"]["widget"] == "select"
