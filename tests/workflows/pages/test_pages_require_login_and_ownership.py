"""Every workflow and strategy page: anonymous visitors go to the login page, other traders get 404, staff see all."""

import pytest
from django.urls import reverse

from workflows.models import Strategy, Workflow


def workflow_pages(workflow):
    return [
        ("get", reverse("workflows-builder", args=[workflow.pk])),
        ("get", reverse("workflows-history", args=[workflow.pk])),
        ("get", reverse("workflows-export", args=[workflow.pk])),
        ("post", reverse("workflows-clone", args=[workflow.pk])),
        ("post", reverse("workflows-delete", args=[workflow.pk])),
        ("post", reverse("workflows-revert", args=[workflow.pk, 1])),
    ]


def strategy_pages(strategy):
    return [
        ("get", reverse("strategies-edit", args=[strategy.pk])),
        ("post", reverse("strategies-edit", args=[strategy.pk])),
        ("post", reverse("strategies-delete", args=[strategy.pk])),
    ]


@pytest.mark.parametrize("name", ["workflows", "workflows-new", "workflows-import", "strategies", "strategies-new"])
def test_it_sends_anonymous_visitors_to_the_login_page(client, db, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_it_sends_anonymous_visitors_away_from_a_workflow_and_a_strategy(client, alice_strategy):
    for method, url in workflow_pages(alice_strategy.workflow) + strategy_pages(alice_strategy):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login"))


def test_another_trader_gets_404_and_changes_nothing(client, bob, alice_strategy):
    client.force_login(bob)
    workflow = alice_strategy.workflow
    for method, url in workflow_pages(workflow) + strategy_pages(alice_strategy):
        assert getattr(client, method)(url).status_code == 404, url
    assert Workflow.objects.filter(owner=bob).count() == 0
    workflow.refresh_from_db()
    assert workflow.deleted_at is None and workflow.versions.count() == 1
    assert Strategy.objects.filter(pk=alice_strategy.pk).exists()


def test_the_owner_and_staff_open_every_page(client, alice, staff, alice_strategy):
    workflow = alice_strategy.workflow
    for user in (alice, staff):
        client.force_login(user)
        for url in (reverse("workflows-builder", args=[workflow.pk]), reverse("workflows-history", args=[workflow.pk]),
                    reverse("strategies-edit", args=[alice_strategy.pk]), reverse("workflows"), reverse("strategies"),
                    reverse("workflows-new"), reverse("strategies-new"), reverse("workflows-import")):
            assert client.get(url).status_code == 200, (user, url)


def test_pages_refuse_the_wrong_http_method(alice_client, alice_strategy):
    workflow = alice_strategy.workflow
    assert alice_client.get(reverse("workflows-clone", args=[workflow.pk])).status_code == 405
    assert alice_client.get(reverse("workflows-delete", args=[workflow.pk])).status_code == 405
    assert alice_client.get(reverse("strategies-delete", args=[alice_strategy.pk])).status_code == 405
