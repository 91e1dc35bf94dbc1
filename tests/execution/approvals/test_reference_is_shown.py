"""The market reference a decision was priced at is shown beside the model's own price: the decisions
API, the approval panel and the execution page."""

from decimal import Decimal

import pytest
from django.test import Client

from tests.execution.approvals.conftest import park_here


@pytest.mark.django_db(transaction=True)
def test_the_api_the_approval_panel_and_the_results_show_the_market_and_the_models_price(alice, alice_api):
    execution = park_here(alice)
    decision = execution.decisions.get()
    model_price = (decision.reference_price * Decimal("1.004")).quantize(Decimal("0.01"))
    type(decision).objects.filter(pk=decision.pk).update(current_price=model_price)

    shown = alice_api.get(f"/api/decisions/{decision.pk}/").json()
    assert Decimal(shown["reference_price"]) == decision.reference_price
    assert shown["reference_source"] == "quote_last"
    assert isinstance(shown["reference_age_seconds"], int) and shown["reference_age_seconds"] >= 0
    assert Decimal(shown["current_price"]) == model_price

    client = Client()
    client.force_login(alice)
    market_text, model_text = f"{decision.reference_price:,.2f}", f"{model_price:,.2f}"
    panel = client.get(f"/executions/{execution.pk}/approval/").content.decode()
    assert f"price: '{market_text}'" in panel, "the panel's risk arithmetic runs on the market price"
    assert "Last trade" in panel and f"data-approval-model-price>{model_text}<" in panel
    results = client.get(f"/executions/{execution.pk}/results/").content.decode()
    reference = results[results.index("data-reference>") :].split("</div>")[0]
    assert market_text in reference and 'data-reference-source="quote_last"' in reference
    assert model_text in results[results.index("data-model-price>") :].split("</div>")[0]
