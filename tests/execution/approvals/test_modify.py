"""Modify: changed levels or quantity are re-validated by risk; accepted ones are ordered, refused change nothing."""

from decimal import Decimal

import pytest

from agents.models import ApprovalRequest
from execution.models import Decision, WorkflowExecution
from tests.execution.approvals.conftest import entry_order, park_here, wait_for_end


@pytest.mark.django_db(transaction=True)
def test_a_modified_decision_is_revalidated_and_ordered_with_the_new_levels(alice, alice_api, celery_worker):
    execution = park_here(alice)
    decision = Decision.objects.get(execution=execution)
    new_target = (decision.current_price * Decimal("1.20")).quantize(Decimal("0.01"))

    response = alice_api.post(
        f"/api/workflow-executions/{execution.pk}/modify/", {"target_price": str(new_target), "quantity": 5}
    )

    assert response.status_code == 202, response.content
    decision.refresh_from_db()
    assert decision.target_price == new_target and decision.quantity == 5
    assert Decimal(decision.risk["r_coefficient"]) > Decimal("3"), "the risk arithmetic is redone for the new target"
    approval = ApprovalRequest.objects.get(execution=execution)
    assert approval.status == "modified" and Decimal(approval.response["changes"]["target_price"]) == new_target
    finished = wait_for_end(execution.pk)
    assert finished.status == WorkflowExecution.Status.COMPLETED, (finished.error, finished.results)
    order = entry_order(decision)
    assert order.quantity == 5
    assert order.children.get(limit_price__isnull=False).limit_price == new_target, "the take-profit leg uses it"


@pytest.mark.django_db(transaction=True)
def test_a_modification_that_fails_risk_is_refused_and_stays_pending(alice, alice_api):
    execution = park_here(alice)
    decision = Decision.objects.get(execution=execution)
    before = (decision.target_price, decision.stop_loss, decision.quantity, decision.risk)
    too_close = (decision.current_price * Decimal("1.01")).quantize(Decimal("0.01"))

    response = alice_api.post(f"/api/workflow-executions/{execution.pk}/modify/", {"target_price": str(too_close)})

    assert response.status_code == 400
    reasons = " ".join(response.json()["reasons"]).lower()
    assert "r coefficient" in reasons or "profit margin" in reasons, reasons
    decision.refresh_from_db()
    assert (decision.target_price, decision.stop_loss, decision.quantity, decision.risk) == before
    assert decision.status == Decision.Status.APPROVED
    assert ApprovalRequest.objects.get(execution=execution).status == "pending"
    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.AWAITING_APPROVAL


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_quantity_above_what_risk_sizing_allows(alice, alice_api):
    execution = park_here(alice)
    decision = Decision.objects.get(execution=execution)

    response = alice_api.post(
        f"/api/workflow-executions/{execution.pk}/modify/", {"quantity": int(decision.quantity) + 1}
    )

    assert response.status_code == 400
    assert "risk rules allow" in response.json()["reasons"][0]
    decision.refresh_from_db()
    assert ApprovalRequest.objects.get(execution=execution).status == "pending"


@pytest.mark.django_db(transaction=True)
def test_it_answers_bad_modifications_with_field_errors(alice, alice_api):
    execution = park_here(alice)
    url = f"/api/workflow-executions/{execution.pk}/modify/"

    for body, field in [({}, "non_field_errors"), ({"stop_loss": "-3"}, "stop_loss"), ({"quantity": 0}, "quantity")]:
        response = alice_api.post(url, body, format="json")
        assert response.status_code == 400 and field in response.json(), (body, response.content)

    assert ApprovalRequest.objects.get(execution=execution).status == "pending"
