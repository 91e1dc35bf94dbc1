"""A provider that refuses (429 with Retry-After) and fails (503) for a while slows a run down, but fails none.

The Single Timeframe workflow runs with the real OpenAI client against the fake OpenAI-compatible
server, whose first answers are refusals; the provider is limited to two requests at once.
Waits are kept short through settings; the provider's Retry-After is honoured, as the server's
arrival times show.
"""

import uuid
from decimal import Decimal

import pytest
from django.db import connections

from agents.models import LLMCall
from execution.models import StepRun, WorkflowExecution
from execution.runner import run_execution
from execution.services import execution_create
from tests.execution.conftest import make_strategy, workflow_from_template
from tests.execution.test_the_market_prices_every_order import priced_model
from tests.support.fake_openai import fake_openai_server


@pytest.mark.django_db(transaction=True)
def test_a_run_outlasts_a_provider_refusing_and_failing_for_a_while(settings, alice):
    settings.CHART_WIDTH, settings.CHART_HEIGHT = 480, 320
    markets = []
    with fake_openai_server(
        priced_model(lambda market: (market, market * Decimal("1.1"), market * Decimal("0.95")), markets)
    ) as server:
        settings.LLM_PROVIDER, settings.LLM_BASE_URL, settings.LLM_API_KEY = "openai", server.url, "sk-test-key"
        settings.LLM_MODEL = "gpt-4o"
        settings.LLM_PROVIDER_NAME = f"refusing-{uuid.uuid4().hex[:8]}"
        settings.LLM_MAX_IN_FLIGHT = 2
        settings.LLM_RETRY_BASE_SECONDS, settings.LLM_RETRY_MAX_DELAY_SECONDS = 0.02, 0.1
        settings.LLM_RETRY_BUDGET_SECONDS = 60
        server.script += [(429, "Rate limit reached", 0, {"Retry-After": "0.3"})] * 4
        server.script += [(503, "The server is overloaded", 0)] * 6
        strategy = make_strategy(alice, workflow_from_template(alice, "single_timeframe"), symbols=("AAPL", "MSFT"))
        execution = execution_create(owner=alice, strategy=strategy, dry_run=True, params={"symbol_delay": 0})
        try:
            run_execution(execution.pk)
        finally:
            connections.close_all()

    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.COMPLETED, execution.error
    assert not StepRun.objects.filter(execution=execution).exclude(error="").exists()
    assert execution.results["symbols_processed"] == 2 and execution.results["errors"] == []
    refused = LLMCall.objects.filter(execution=execution).exclude(error="")
    assert refused.filter(error__contains="HTTP 429").count() == 4
    assert refused.filter(error__contains="HTTP 503").count() == 6
    arrivals = [request["at"] for request in server.requests]
    assert arrivals[1] >= arrivals[0] + 0.3  # the first refusal's Retry-After, honoured by the one retrying
    assert server.max_in_flight <= 2
