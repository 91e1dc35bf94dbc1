"""The rules of one ApprovalRequest (agents.approvals): answered once, deadline, price tolerance."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agents.approvals import (
    ApprovalAlreadyAnswered,
    approval_answer,
    approval_create,
    is_overdue,
    price_move_pct,
    stale_price_message,
)
from broker.instruments import qualify_symbol
from execution.models import Decision, WorkflowExecution


@pytest.fixture
def approval(alice, settings):
    settings.APPROVAL_TIMEOUT_SECONDS = 120
    execution = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"])
    decision = Decision.objects.create(execution=execution, instrument=qualify_symbol("AAPL"), type="buy")
    return approval_create(execution=execution, decision=decision)


def test_a_request_is_due_after_the_configured_timeout(approval):
    assert approval.status == "pending"
    assert timedelta(seconds=119) < approval.deadline - timezone.now() <= timedelta(seconds=120)
    assert not is_overdue(approval)
    assert is_overdue(approval, now=approval.deadline)


def test_a_request_is_answered_only_once(approval, alice):
    approval_answer(approval, status="approved", responder=alice, response={"action": "approve"})

    with pytest.raises(ApprovalAlreadyAnswered):
        approval_answer(approval, status="rejected", responder=alice)
    approval.refresh_from_db()
    assert approval.status == "approved" and approval.responded_at is not None


def test_the_price_tolerance_is_a_percentage_of_the_proposed_entry(settings):
    settings.APPROVAL_MAX_PRICE_MOVE_PCT = 2.0

    assert price_move_pct(Decimal("100"), Decimal("97.5")) == Decimal("2.50")
    assert stale_price_message(Decimal("100"), Decimal("102")) == ""
    assert "moved 2.50%" in stale_price_message(Decimal("100"), Decimal("102.5"))
