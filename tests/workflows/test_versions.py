import pytest

from tests.workflows.conftest import template_definition
from workflows.models import WorkflowVersion
from workflows.services import WorkflowInvalid, versions_diff, workflow_revert, workflow_update


def test_a_new_workflow_starts_at_version_one(alice_workflow):
    assert alice_workflow.version_number == 1
    assert alice_workflow.status == "draft"
    assert alice_workflow.current_version.created_by == alice_workflow.owner


def test_changing_steps_makes_a_new_version(alice, alice_workflow):
    steps = alice_workflow.steps
    steps[0]["config"]["period"] = "2y"
    workflow_update(workflow=alice_workflow, user=alice, steps=steps, note="longer history")
    assert alice_workflow.version_number == 2
    assert alice_workflow.current_version.note == "longer history"
    assert alice_workflow.versions.get(number=1).steps[0]["config"]["period"] == "1y"


def test_changing_parameters_makes_a_new_version(alice, alice_workflow):
    parameters = alice_workflow.current_version.parameters + [{"name": "extra", "type": "number", "default": 1}]
    workflow_update(workflow=alice_workflow, user=alice, parameters=parameters)
    assert alice_workflow.version_number == 2
    assert alice_workflow.parameters == parameters


def test_renaming_does_not_make_a_version(alice, alice_workflow):
    workflow_update(workflow=alice_workflow, user=alice, name="Renamed", description="new words",
                    steps=alice_workflow.steps)
    assert alice_workflow.name == "Renamed"
    assert alice_workflow.version_number == 1


def test_an_invalid_update_changes_nothing(alice, alice_workflow):
    steps = alice_workflow.steps
    steps[0]["config"]["bar"] = "2d"
    with pytest.raises(WorkflowInvalid) as raised:
        workflow_update(workflow=alice_workflow, user=alice, name="", steps=steps)
    assert {(error.step_id, error.field) for error in raised.value.errors} == {("", "name"), ("fetch_daily", "bar")}
    alice_workflow.refresh_from_db()
    assert (alice_workflow.name, alice_workflow.version_number) == ("Alice daily", 1)


def test_versions_are_immutable(alice_workflow):
    version = alice_workflow.current_version
    version.note = "rewritten history"
    with pytest.raises(Exception, match="immutable"):
        version.save()
    assert WorkflowVersion.objects.get(pk=version.pk).note == "Created"


def test_revert_makes_a_new_version_with_the_old_content(alice, alice_workflow):
    steps = alice_workflow.steps
    steps[0]["config"]["period"] = "2y"
    workflow_update(workflow=alice_workflow, user=alice, steps=steps)
    workflow_revert(workflow=alice_workflow, number=1, user=alice)
    assert alice_workflow.version_number == 3
    assert alice_workflow.current_version.note == "Reverted from v1"
    assert alice_workflow.steps == alice_workflow.versions.get(number=1).steps


def test_diff_lists_added_removed_modified_steps_and_parameters(alice, alice_workflow):
    definition = template_definition("single_timeframe")
    steps = definition["steps"]
    steps[0]["config"]["period"] = "2y"
    steps[0]["name"] = "Two years"
    steps.insert(1, {"id": "pause", "type": "wait", "name": "Pause", "config": {"seconds": 5}})
    steps = [step for step in steps if step["id"] != "place_order"]
    parameters = [dict(parameter) for parameter in definition["parameters"]]
    parameters[1]["default"] = 0.02
    parameters.append({"name": "note", "type": "string", "default": ""})
    workflow_update(workflow=alice_workflow, user=alice, steps=steps, parameters=parameters)

    diff = versions_diff(alice_workflow.versions.get(number=1), alice_workflow.versions.get(number=2))

    assert diff["changed"] is True
    assert [step["id"] for step in diff["steps"]["added"]] == ["pause"]
    assert [step["id"] for step in diff["steps"]["removed"]] == ["place_order"]
    assert diff["steps"]["modified"] == [{"id": "fetch_daily", "changes": [
        {"field": "config.period", "from": "1y", "to": "2y"},
        {"field": "name", "from": "Fetch daily bars (1y/1d)", "to": "Two years"},
    ]}]
    assert [parameter["name"] for parameter in diff["parameters"]["added"]] == ["note"]
    assert diff["parameters"]["changed"] == [
        {"name": "risk_per_trade", "changes": [{"field": "default", "from": 0.01, "to": 0.02}]}
    ]


def test_diff_of_a_version_with_itself_is_empty(alice_workflow):
    version = alice_workflow.current_version
    assert versions_diff(version, version)["changed"] is False


def test_diff_reports_moved_steps(alice, alice_workflow):
    definition = template_definition("two_indicator")
    workflow_update(workflow=alice_workflow, user=alice, **definition)
    steps = definition["steps"]
    steps[0], steps[1] = steps[1], steps[0]
    workflow_update(workflow=alice_workflow, user=alice, steps=steps)
    diff = versions_diff(alice_workflow.versions.get(number=2), alice_workflow.versions.get(number=3))
    assert {move["id"] for move in diff["steps"]["moved"]} == {"fetch_daily", "fetch_weekly"}
    assert diff["steps"]["modified"] == []
