import pytest
from django.test import Client

from workflows.services import strategy_create


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def test_staff_browse_workflows_versions_and_strategies(staff_client, alice, alice_workflow):
    strategy = strategy_create(owner=alice, name="Tech", workflow=alice_workflow)
    version = alice_workflow.current_version
    for url in (
        "/admin/workflows/workflow/",
        f"/admin/workflows/workflow/{alice_workflow.pk}/change/",
        "/admin/workflows/workflowversion/",
        f"/admin/workflows/workflowversion/{version.pk}/change/",
        "/admin/workflows/strategy/",
        f"/admin/workflows/strategy/{strategy.pk}/change/",
    ):
        assert staff_client.get(url).status_code == 200, url


def test_versions_cannot_be_changed_or_deleted_in_the_admin(staff_client, alice_workflow):
    version = alice_workflow.current_version
    changed = staff_client.post(f"/admin/workflows/workflowversion/{version.pk}/change/", {"note": "rewritten"})
    assert changed.status_code == 403
    deleted = staff_client.post(f"/admin/workflows/workflowversion/{version.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    version.refresh_from_db()
    assert version.note == "Created"
