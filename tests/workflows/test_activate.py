import pytest

from agents.models import ModelProvider
from tests.workflows.conftest import template_definition
from workflows.models import Workflow
from workflows.services import WorkflowInvalid, workflow_activate, workflow_create


def test_a_valid_workflow_activates(alice_workflow):
    workflow_activate(workflow=alice_workflow)
    alice_workflow.refresh_from_db()
    assert alice_workflow.status == Workflow.Status.ACTIVE


def test_activation_refuses_reckless_risk_settings(alice):
    definition = template_definition("single_timeframe")
    risk = next(step for step in definition["steps"] if step["type"] == "validate_risk")
    risk["config"].update(risk_per_trade=0.5, min_r_coefficient=0.2)
    workflow = workflow_create(owner=alice, name="Reckless", **definition)
    with pytest.raises(WorkflowInvalid) as raised:
        workflow_activate(workflow=workflow)
    assert {(error.step_id, error.field) for error in raised.value.errors} == {
        ("validate_risk", "risk_per_trade"),
        ("validate_risk", "min_r_coefficient"),
    }
    workflow.refresh_from_db()
    assert workflow.status == Workflow.Status.DRAFT


def test_activation_refuses_models_nobody_serves(alice):
    definition = template_definition("single_timeframe")
    definition["parameters"][0]["default"] = "gpt-99-ultra"
    workflow = workflow_create(owner=alice, name="Future model", **definition)
    with pytest.raises(WorkflowInvalid) as raised:
        workflow_activate(workflow=workflow)
    assert {error.step_id for error in raised.value.errors} == {"analyze_daily", "decide"}
    assert "gpt-99-ultra" in raised.value.errors[0].message


def test_the_model_check_is_a_hook(alice):
    definition = template_definition("single_timeframe")
    definition["parameters"][0]["default"] = "local-llama"
    workflow = workflow_create(owner=alice, name="Local model", **definition)
    workflow_activate(workflow=workflow, model_problem=lambda model: None if model == "local-llama" else "unknown")
    assert workflow.status == Workflow.Status.ACTIVE
    with pytest.raises(WorkflowInvalid, match="endpoint unreachable"):
        workflow_activate(workflow=workflow, model_problem=lambda model: "endpoint unreachable")


def test_activation_accepts_a_model_staff_serve_through_a_provider(alice):
    ModelProvider.objects.create(name="lab", base_url="http://models.internal:8000/v1", allowed_models=["lab-llama"])
    definition = template_definition("single_timeframe")
    definition["parameters"][0]["default"] = "lab-llama"
    workflow = workflow_create(owner=alice, name="Lab model", **definition)

    workflow_activate(workflow=workflow)

    assert workflow.status == Workflow.Status.ACTIVE
