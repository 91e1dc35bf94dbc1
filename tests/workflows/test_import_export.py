import json

import pytest

from tests.workflows.conftest import template_definition
from workflows.services import WorkflowInvalid, workflow_create, workflow_export, workflow_import


def test_export_then_import_round_trips(alice, bob, alice_workflow):
    document = json.loads(json.dumps(workflow_export(workflow=alice_workflow)))
    imported = workflow_import(owner=bob, data=document)
    assert imported.owner == bob
    assert imported.pk != alice_workflow.pk
    assert imported.steps == alice_workflow.steps
    assert imported.parameters == alice_workflow.parameters
    assert imported.type == alice_workflow.type
    assert imported.imported_from == "Imported from Alice daily v1"
    assert imported.status == "draft"


def test_import_names_the_given_source(alice, alice_workflow):
    imported = workflow_import(owner=alice, data=workflow_export(workflow=alice_workflow), source="shared.json")
    assert imported.imported_from == "Imported from shared.json"


def test_export_leaves_out_secrets(alice):
    definition = template_definition("autogen_multi_agent")
    team = next(step for step in definition["steps"] if step["type"] == "agent_team")
    team["config"]["agents"][0]["system_prompt"] = "Read https://trader:hunter2@llm.example.com/v1 first."
    workflow = workflow_create(owner=alice, name="Team", type="autogen_multi_agent", **definition)
    # A secret that slipped into an old version's JSON by other means must not leave either.
    workflow.current_version.steps[0]["config"]["api_key"] = "sk-live-123"

    text = json.dumps(workflow_export(workflow=workflow))

    assert "hunter2" not in text
    assert "sk-live-123" not in text
    assert "https://llm.example.com/v1" in text


def test_export_keeps_settings_whose_names_merely_mention_tokens(alice):
    definition = template_definition("single_timeframe")
    definition["steps"][2]["config"]["max_tokens"] = 1234
    workflow = workflow_create(owner=alice, name="Long answers", **definition)
    assert workflow_export(workflow=workflow)["steps"][2]["config"]["max_tokens"] == 1234


def test_import_validates_and_refuses_invalid_documents(alice):
    definition = template_definition("single_timeframe")
    definition["steps"] = [step for step in definition["steps"] if step["type"] != "validate_risk"]
    with pytest.raises(WorkflowInvalid) as raised:
        workflow_import(owner=alice, data={"name": "Bad", **definition})
    assert ("place_order", "type") in {(error.step_id, error.field) for error in raised.value.errors}
    with pytest.raises(WorkflowInvalid):
        workflow_import(owner=alice, data=["not", "a", "workflow"])
    with pytest.raises(WorkflowInvalid):
        workflow_import(owner=alice, data={"format": "something-else", **definition})
