"""Importing a workflow file: any JSON document either becomes one draft workflow or is refused with
a list of errors, changing nothing (service and API alike)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.tradingweb.fuzz.conftest import FUZZ
from tests.tradingweb.fuzz.strategies import broken_workflows, json_values
from workflows.models import Workflow, WorkflowVersion
from workflows.services import EXPORT_FORMAT, WorkflowInvalid, workflow_import


@st.composite
def import_documents(draw):
    """Exported-looking documents with broken steps, or any JSON at all."""
    steps, parameters = draw(broken_workflows())
    exported = {
        "format": draw(st.sampled_from([EXPORT_FORMAT, EXPORT_FORMAT, "other-format", None])),
        "name": draw(st.none() | st.text(max_size=300)),
        "type": draw(st.none() | st.text(max_size=20) | st.just("two_indicator")),
        "version": draw(json_values),
        "steps": steps,
        "parameters": parameters,
    }
    return draw(st.just(exported) | json_values)


def rows():
    return Workflow.objects.count(), WorkflowVersion.objects.count()


@pytest.mark.django_db
@FUZZ
@given(document=import_documents())
def test_an_import_makes_one_draft_or_raises_workflow_invalid_and_saves_nothing(alice, document):
    before = rows()
    try:
        workflow = workflow_import(owner=alice, data=document)
    except WorkflowInvalid as refusal:
        assert refusal.errors and all(error.message for error in refusal.errors)
        assert rows() == before
    else:
        assert workflow.status == Workflow.Status.DRAFT and workflow.owner == alice
        assert rows() == (before[0] + 1, before[1] + 1)


@pytest.mark.django_db
@FUZZ
@given(document=import_documents())
def test_the_import_api_answers_201_or_400_with_errors(alice_api, document):
    before = rows()
    response = alice_api.post("/api/workflows/import/", document, format="json")
    assert response.status_code in (201, 400), response.content
    if response.status_code == 400:
        assert response.json()
        assert rows() == before
