"""The strategies list: the trader's strategies with their workflow and last execution, or what to do first."""

from django.urls import reverse

from execution.models import WorkflowExecution


def test_it_lists_each_strategy_with_its_workflow_and_last_execution(alice_client, alice, alice_strategy):
    WorkflowExecution.objects.create(owner=alice, workflow=alice_strategy.workflow, strategy=alice_strategy,
                                     status="running")
    html = alice_client.get(reverse("strategies")).content.decode()
    row = html[html.index(f'data-strategy="{alice_strategy.pk}"'):]
    assert "Alice tech" in row and "Alice daily" in row
    assert 'data-type="single_timeframe"' in row
    assert 'data-status="running"' in row


def test_a_strategy_that_never_ran_says_so(alice_client, alice_strategy):
    assert "Never run" in alice_client.get(reverse("strategies")).content.decode()


def test_without_workflows_the_empty_list_points_to_the_templates(alice_client):
    html = alice_client.get(reverse("strategies")).content.decode()
    assert "No strategies yet" in html
    assert f'href="{reverse("workflows-new")}"' in html


def test_with_workflows_the_empty_list_points_to_the_form(alice_client, alice_workflow):
    html = alice_client.get(reverse("strategies")).content.decode()
    assert "Create a strategy" in html
    assert f'href="{reverse("strategies-new")}"' in html
