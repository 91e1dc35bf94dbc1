"""One execution's page: timeline, decisions, conversation, approval; only for its owner (and staff)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.models import AgentMessage, ApprovalRequest
from execution.models import StepRun

PARTIALS = ["executions-detail", "executions-monitor-row", "executions-results", "executions-approval"]


def test_the_owner_sees_the_timeline_and_the_decision(client, alice, alice_history):
    execution = alice_history.execution
    StepRun.objects.create(execution=execution, symbol="AAPL", index=0, step_id="fetch", step_type="fetch_data",
                           status=StepRun.Status.COMPLETED, duration_ms=42)
    client.force_login(alice)
    html = client.get(reverse("executions-detail", args=[execution.pk])).content.decode()
    assert 'data-timeline-symbol="AAPL"' in html
    assert 'data-step="fetch" data-step-status="completed"' in html
    assert 'data-step="decide" data-step-status="pending"' in html
    assert f'data-decision="{alice_history.decision.pk}"' in html
    assert "112.00" in html  # the target
    assert f'data-order="{alice_history.order.pk}"' in html


@pytest.mark.parametrize("name", PARTIALS)
def test_another_trader_gets_404_for_every_part_of_the_page(client, bob, alice_history, name):
    client.force_login(bob)
    assert client.get(reverse(name, args=[alice_history.execution.pk])).status_code == 404


@pytest.mark.parametrize("name", PARTIALS)
def test_staff_may_read_every_part_of_the_page(client, staff, alice_history, name):
    client.force_login(staff)
    assert client.get(reverse(name, args=[alice_history.execution.pk])).status_code == 200


def test_an_agent_team_run_shows_its_conversation_with_the_final_decision_marked(client, alice, alice_history):
    execution = alice_history.execution
    AgentMessage.objects.create(execution=execution, symbol="AAPL", agent_name="RiskManager", content="R is 2.4.",
                                tokens=55, round=1)
    AgentMessage.objects.create(execution=execution, symbol="AAPL", agent_name="Executor", content="FINAL_DECISION",
                                message_type=AgentMessage.MessageType.DECISION, tokens=70, round=2)
    client.force_login(alice)
    html = client.get(reverse("executions-detail", args=[execution.pk])).content.decode()
    assert "Agent conversation" in html
    assert 'data-agent="RiskManager" data-message-type="text"' in html
    assert 'data-agent="Executor" data-message-type="decision" data-final' in html
    assert "55 tokens" in html


def test_a_parked_execution_shows_the_approval_panel_with_its_levels(client, alice, alice_history):
    execution = alice_history.execution
    execution.status = "awaiting_approval"
    execution.save()
    decision = alice_history.decision
    decision.status = "approved"
    decision.quantity = 20
    decision.save()
    deadline = timezone.now() + timedelta(minutes=5)
    ApprovalRequest.objects.create(execution=execution, decision=decision, deadline=deadline)
    client.force_login(alice)
    html = client.get(reverse("executions-approval", args=[execution.pk])).content.decode()
    assert "Your approval is needed" in html
    assert "target: '112.00'" in html
    assert "data-approve" in html


def test_a_finished_execution_has_no_cancel_button(client, alice, alice_history):
    client.force_login(alice)
    html = client.get(reverse("executions-detail", args=[alice_history.execution.pk])).content.decode()
    assert "data-cancel-execution" not in html
