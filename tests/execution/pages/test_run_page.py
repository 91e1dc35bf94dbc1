"""The run page queues an execution through execution_create/execution_enqueue, or says what is wrong."""

import pytest
from django.urls import reverse

from execution.models import WorkflowExecution
from tests.support.seed import instrument
from workflows.models import Strategy


@pytest.mark.django_db(transaction=True)
def test_running_a_strategy_queues_an_execution_and_opens_its_page(client, alice, runnable_strategy):
    client.force_login(alice)
    response = client.post(
        reverse("executions-run"),
        {"strategy": runnable_strategy.pk, "symbols": ["AAPL"], "priority": "high", "dry_run": "on"},
    )
    execution = WorkflowExecution.objects.get()
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


def test_a_symbol_outside_the_strategy_is_refused_with_the_services_reason(client, alice, runnable_strategy):
    other = Strategy.objects.create(owner=alice, name="Alice other", workflow=runnable_strategy.workflow)
    other.instruments.add(instrument("NVDA"))
    client.force_login(alice)
    response = client.post(
        reverse("executions-run"), {"strategy": runnable_strategy.pk, "symbols": ["NVDA"], "priority": "normal"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "data-symbols-error" in html
    assert "not in strategy" in html and "NVDA" in html
    assert not WorkflowExecution.objects.exists()


def test_an_invalid_workflow_is_refused_with_its_errors_on_the_form(client, alice, alice_history):
    client.force_login(alice)
    response = client.post(reverse("executions-run"), {"strategy": alice_history.strategy.pk, "priority": "normal"})
    html = response.content.decode()
    assert "data-form-errors" in html
    assert "is not valid" in html
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
