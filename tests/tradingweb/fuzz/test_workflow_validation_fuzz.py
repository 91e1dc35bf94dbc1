"""validate_workflow answers any JSON with a list of errors, never an exception; the API refuses an
invalid workflow with 400 and field errors and saves nothing."""

import pytest
from hypothesis import given

from tests.tradingweb.fuzz.conftest import FUZZ
from tests.tradingweb.fuzz.strategies import broken_workflows, json_values
from workflows.models import Workflow, WorkflowVersion
from workflows.validation import WorkflowError, validate_workflow


def assert_errors(result):
    assert isinstance(result, list) and all(isinstance(error, WorkflowError) for error in result)
    assert all(error.message for error in result)


@FUZZ
@given(steps=json_values, parameters=json_values)
def test_any_json_gets_a_list_of_errors_never_an_exception(steps, parameters):
    assert_errors(validate_workflow(steps, parameters))


@FUZZ
@given(broken_workflows())
def test_a_template_with_broken_fields_gets_a_list_of_errors_never_an_exception(workflow):
    assert_errors(validate_workflow(*workflow))


@pytest.mark.django_db
@FUZZ
@given(workflow=broken_workflows())
def test_the_api_refuses_an_invalid_workflow_with_field_errors_and_saves_nothing(alice_api, workflow):
    steps, parameters = workflow
    before = (Workflow.objects.count(), WorkflowVersion.objects.count())

    response = alice_api.post("/api/workflows/", {"name": "fuzzed", "steps": steps, "parameters": parameters},
                              format="json")

    if validate_workflow(steps, parameters):
        assert response.status_code == 400, response.content
        assert response.json()["errors"] and all("message" in error for error in response.json()["errors"])
        assert (Workflow.objects.count(), WorkflowVersion.objects.count()) == before
    else:
        assert response.status_code == 201, response.content
