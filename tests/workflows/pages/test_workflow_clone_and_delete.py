"""Clone and delete from the builder page."""

from django.urls import reverse

from workflows.models import Workflow


def test_clone_makes_a_copy_and_opens_it(alice_client, alice, alice_workflow):
    response = alice_client.post(reverse("workflows-clone", args=[alice_workflow.pk]))
    clone = Workflow.objects.get(owner=alice, name="Alice daily (Copy)")
    assert response["Location"] == reverse("workflows-builder", args=[clone.pk])
    assert clone.steps == alice_workflow.steps


def test_delete_hides_an_unused_workflow(alice_client, alice_workflow):
    response = alice_client.post(reverse("workflows-delete", args=[alice_workflow.pk]), follow=True)
    alice_workflow.refresh_from_db()
    assert alice_workflow.deleted_at is not None
    assert "Workflow “Alice daily” deleted." in response.content.decode()
    assert f'data-workflow="{alice_workflow.pk}"' not in response.content.decode()


def test_delete_refuses_a_workflow_that_strategies_use_and_says_which(alice_client, alice_strategy):
    workflow = alice_strategy.workflow
    response = alice_client.post(reverse("workflows-delete", args=[workflow.pk]), follow=True)
    workflow.refresh_from_db()
    assert workflow.deleted_at is None
    assert response.redirect_chain[-1][0] == reverse("workflows-builder", args=[workflow.pk])
    assert "is used by 1 strategies: Alice tech" in response.content.decode()
