"""Export downloads a workflow as JSON; import makes a new draft from such a file, or says why not."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from workflows.models import Workflow


def upload(content: bytes, name: str = "workflow.json") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/json")


def test_export_downloads_the_current_version_as_a_json_file(alice_client, alice_workflow):
    response = alice_client.get(reverse("workflows-export", args=[alice_workflow.pk]))
    assert response["Content-Disposition"] == f'attachment; filename="workflow-{alice_workflow.pk}-v1.json"'
    document = json.loads(response.content)
    assert document["format"] == "tradingweb-workflow"
    assert document["steps"] == alice_workflow.steps


def test_an_exported_file_imports_as_a_new_draft(alice_client, alice, alice_workflow):
    exported = alice_client.get(reverse("workflows-export", args=[alice_workflow.pk])).content
    response = alice_client.post(reverse("workflows-import"), {"file": upload(exported, "daily.json")})
    imported = Workflow.objects.exclude(pk=alice_workflow.pk).get(owner=alice)
    assert response.status_code == 302
    assert response["Location"] == reverse("workflows-builder", args=[imported.pk])
    assert imported.steps == alice_workflow.steps
    assert imported.imported_from == "Imported from daily.json"


def test_a_file_that_is_not_json_is_refused_inline(alice_client, alice):
    response = alice_client.post(reverse("workflows-import"), {"file": upload(b"{not json")})
    assert response.status_code == 200
    assert "The file is not valid JSON (line 1" in response.content.decode()
    assert not Workflow.objects.filter(owner=alice).exists()


def test_an_invalid_workflow_lists_every_problem_and_imports_nothing(alice_client, alice):
    document = {"format": "tradingweb-workflow", "name": "Broken", "steps": [
        {"id": "order", "type": "place_order", "name": "Order", "config": {}},
    ]}
    response = alice_client.post(reverse("workflows-import"), {"file": upload(json.dumps(document).encode())})
    html = response.content.decode()
    assert "data-import-errors" in html
    assert "a workflow needs at least one fetch_data step" in html
    assert "place_order needs a validate_risk step before it" in html
    assert not Workflow.objects.filter(owner=alice).exists()
