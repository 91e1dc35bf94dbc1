"""Versions: a side-by-side diff of two versions, and revert."""

import copy

from django.urls import reverse

from workflows.services import workflow_update


def second_version(workflow, user):
    steps = copy.deepcopy(workflow.steps)
    steps[0]["config"]["period"] = "2y"  # modified
    steps = [step for step in steps if step["id"] != "place_order"]  # removed
    steps.insert(3, {"id": "pause", "type": "wait", "name": "Pause", "config": {"seconds": 5}})  # added
    return workflow_update(workflow=workflow, user=user, steps=steps, note="Longer history, no orders")


def test_it_marks_added_removed_and_modified_steps_side_by_side(alice_client, alice, alice_workflow):
    second_version(alice_workflow, alice)
    html = alice_client.get(reverse("workflows-history", args=[alice_workflow.pk])).content.decode()
    assert "Changes from v1 to v2" in html
    before = html[html.index('data-diff-side="before"'):html.index('data-diff-side="after"')]
    after = html[html.index('data-diff-side="after"'):]
    assert 'data-diff-step="place_order" data-change="removed"' in before
    assert 'data-diff-step="fetch_daily" data-change="modified"' in before
    assert 'data-diff-step="pause" data-change="added"' in after
    assert 'data-diff-step="fetch_daily" data-change="modified"' in after
    assert 'data-diff-step="decide" data-change="unchanged"' in after
    assert "config.period" in after and "1y" in after and "2y" in after
    assert "Longer history, no orders" in html


def test_it_compares_the_versions_asked_for(alice_client, alice, alice_workflow):
    second_version(alice_workflow, alice)
    html = alice_client.get(reverse("workflows-history", args=[alice_workflow.pk]) + "?a=2&b=1").content.decode()
    assert "Changes from v2 to v1" in html
    assert 'data-diff-step="pause" data-change="removed"' in html
    assert alice_client.get(reverse("workflows-history", args=[alice_workflow.pk]) + "?a=9&b=1").status_code == 404
    assert alice_client.get(reverse("workflows-history", args=[alice_workflow.pk]) + "?a=x").status_code == 404


def test_a_single_version_says_what_to_do_next(alice_client, alice_workflow):
    html = alice_client.get(reverse("workflows-history", args=[alice_workflow.pk])).content.decode()
    assert "Only one version so far" in html


def test_revert_saves_the_old_steps_as_a_new_version(alice_client, alice, alice_workflow):
    original = copy.deepcopy(alice_workflow.steps)
    second_version(alice_workflow, alice)
    response = alice_client.post(reverse("workflows-revert", args=[alice_workflow.pk, 1]), follow=True)
    alice_workflow.refresh_from_db()
    assert alice_workflow.version_number == 3
    assert alice_workflow.steps == original
    assert alice_workflow.current_version.note == "Reverted from v1"
    assert "Reverted to v1: saved as v3." in response.content.decode()


def test_revert_to_a_missing_version_is_404_and_changes_nothing(alice_client, alice_workflow):
    assert alice_client.post(reverse("workflows-revert", args=[alice_workflow.pk, 7])).status_code == 404
    assert alice_workflow.versions.count() == 1
