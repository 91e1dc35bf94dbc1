"""Starting a workflow from the template gallery."""

from django.urls import reverse

from workflows.models import Workflow
from workflows.templates import BUILTIN_TEMPLATES, TEMPLATES_BY_TYPE


def test_the_gallery_shows_every_template_with_its_diagram(alice_client):
    html = alice_client.get(reverse("workflows-new")).content.decode()
    for template in BUILTIN_TEMPLATES:
        assert f'data-template="{template["type"]}"' in html
        for row in template["diagram"]["rows"]:
            for node in row:
                assert node["name"] in html
    assert html.count("data-diagram") == len(BUILTIN_TEMPLATES)


def test_it_creates_a_draft_from_the_template_and_opens_the_builder(alice_client, alice):
    response = alice_client.post(reverse("workflows-new"), {"template": "three_indicator", "name": "Tech 3TF"})
    workflow = Workflow.objects.get(owner=alice)
    assert response.status_code == 302
    assert response["Location"] == reverse("workflows-builder", args=[workflow.pk])
    assert workflow.name == "Tech 3TF"
    assert workflow.type == "three_indicator"
    assert workflow.status == Workflow.Status.DRAFT
    assert workflow.steps == TEMPLATES_BY_TYPE["three_indicator"]["steps"]
    assert workflow.current_version.note == "Created from the 3-Indicator Multi-Timeframe template"


def test_it_refuses_a_missing_name_or_an_unknown_template_inline(alice_client, alice):
    response = alice_client.post(reverse("workflows-new"), {"template": "nonsense", "name": "  "})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Select a valid choice. nonsense is not one of the available choices." in html
    assert "This field is required." in html
    assert 'aria-invalid="true"' in html
    assert not Workflow.objects.filter(owner=alice).exists()
