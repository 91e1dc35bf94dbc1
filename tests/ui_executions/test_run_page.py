"""The run page queues an execution through execution_create/execution_enqueue, or says what is wrong."""

import pytest
from django.urls import reverse

from execution.models import WorkflowExecution


@pytest.mark.django_db(transaction=True)
def test_running_a_strategy_queues_an_execution_and_opens_its_page(client, alice, alice_history):
    client.force_login(alice)
    response = client.post(
        reverse("executions-run"),
        {"strategy": alice_history.strategy.pk, "symbols": ["AAPL"], "priority": "high", "dry_run": "on"},
    )
    execution = WorkflowExecution.objects.exclude(pk=alice_history.execution.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("executions-detail", args=[execution.pk])
    assert (execution.status, execution.priority, execution.dry_run, execution.symbols) == (
        "pending", "high", True, ["AAPL"]
    )
    assert execution.task_id
    assert execution.triggered_by == "user"


def test_the_run_page_offers_the_traders_active_strategies_and_their_symbols(client, alice, alice_history, bob_history):
    client.force_login(alice)
    html = client.get(reverse("executions-run"), {"workflow": alice_history.workflow.pk}).content.decode()
    assert "Alice strategy" in html
    assert "Bob strategy" not in html
    assert 'value="AAPL"' in html
    assert "Alice workflow" in html


def test_an_unknown_priority_is_refused_inline_and_nothing_is_queued(client, alice, alice_history):
    client.force_login(alice)
    response = client.post(reverse("executions-run"), {"strategy": alice_history.strategy.pk, "priority": "urgent"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert WorkflowExecution.objects.count() == 1


def test_an_inactive_strategy_is_refused_with_the_reason(client, alice, alice_history):
    client.force_login(alice)
    alice_history.strategy.active = False
    alice_history.strategy.save()
    response = client.post(reverse("executions-run"), {"strategy": alice_history.strategy.pk, "priority": "normal"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert WorkflowExecution.objects.count() == 1


def test_another_traders_strategy_cannot_be_run(client, bob, alice_history, bob_history):
    client.force_login(bob)
    response = client.post(reverse("executions-run"), {"strategy": alice_history.strategy.pk, "priority": "normal"})
    assert response.status_code == 200
    assert WorkflowExecution.objects.filter(owner=bob).count() == 1


def test_the_run_page_says_what_to_do_without_an_active_strategy(client, alice):
    client.force_login(alice)
    html = client.get(reverse("executions-run")).content.decode()
    assert "No active strategy to run" in html
    assert reverse("strategies-new") in html
