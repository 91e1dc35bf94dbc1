"""The builder page: the workflow, the step catalogue and the strategies that use it."""

import json
import re

from django.urls import reverse

from execution.models import WorkflowExecution
from workflows.steps import STEP_TYPES


def builder_data(response) -> dict:
    html = response.content.decode()
    return json.loads(re.search(r'<script id="builder-data" type="application/json">(.*?)</script>', html, re.S)[1])


def test_it_hands_the_builder_the_current_version_and_the_catalogue(alice_client, alice_workflow):
    response = alice_client.get(reverse("workflows-builder", args=[alice_workflow.pk]))
    data = builder_data(response)
    assert data["definition"]["steps"] == alice_workflow.steps
    assert data["definition"]["parameters"] == alice_workflow.current_version.parameters
    assert data["definition"]["version"] == 1
    assert [entry["type"] for entry in data["catalogue"]] == list(STEP_TYPES)
    assert data["urls"]["validate"] == "/api/workflows/validate/"
    assert data["urls"]["detail"] == f"/api/workflows/{alice_workflow.pk}/"
    html = response.content.decode()
    for step_type in STEP_TYPES:
        assert f'data-add-step="{step_type}"' in html


def test_it_lists_the_strategies_using_the_workflow_with_their_last_execution(alice_client, alice, alice_strategy):
    workflow = alice_strategy.workflow
    WorkflowExecution.objects.create(owner=alice, workflow=workflow, strategy=alice_strategy, status="failed")
    WorkflowExecution.objects.create(owner=alice, workflow=workflow, strategy=alice_strategy, status="completed")
    html = alice_client.get(reverse("workflows-builder", args=[workflow.pk])).content.decode()
    section = html[html.index("data-workflow-strategies"):]
    assert "Alice tech" in section
    assert 'data-status="completed"' in section
    assert 'data-status="failed"' not in section


def test_a_deleted_workflow_is_gone(alice_client, alice_workflow):
    from workflows.services import workflow_delete

    workflow_delete(workflow=alice_workflow)
    assert alice_client.get(reverse("workflows-builder", args=[alice_workflow.pk])).status_code == 404
