from decimal import Decimal

import pytest

from agents.calls import RetryBudget, call_model, decision_cost, execution_cost
from agents.clients import ModelError, TransientModelError
from agents.models import LLMCall
from tests.agents.conftest import ScriptedModel


@pytest.fixture
def execution(alice):
    from execution.models import WorkflowExecution

    return WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"])


def test_it_logs_the_call_with_tokens_and_cost(fast_retries, execution):
    model = ScriptedModel(["Bullish."], model="gpt-4o", tokens=(1000, 500))
    call = call_model(
        prompt="Analyse AAPL.",
        system="You are an analyst.",
        images=[b"\x89PNG fake"],
        execution_id=execution.pk,
        step_id="analyze_daily",
        symbol="AAPL",
        agent_name="TechnicalAnalyst",
        client=model,
    )
    call.refresh_from_db()
    assert call.response == "Bullish."
    assert (call.tokens_in, call.tokens_out) == (1000, 500)
    # gpt-4o: $0.0025 per 1k in, $0.01 per 1k out.
    assert call.cost == Decimal("0.007500")
    assert call.model == "gpt-4o" and call.provider == "default"
    assert (call.execution_id, call.step_id, call.symbol, call.agent_name) == (
        execution.pk,
        "analyze_daily",
        "AAPL",
        "TechnicalAnalyst",
    )
    assert "[system]\nYou are an analyst." in call.prompt and "[user]\nAnalyse AAPL." in call.prompt
    assert "[image 1: PNG, 9 bytes]" in call.prompt
    assert call.error == "" and call.attempt == 1
    assert model.requests[0]["images"] == [b"\x89PNG fake"]


def test_it_prices_dated_model_variants_like_their_family(fast_retries, db):
    call = call_model(prompt="hi", client=ScriptedModel(["ok"], model="gpt-4o-mini-2024-07-18", tokens=(2000, 1000)))
    assert call.cost == Decimal("0.000900")  # 2 x 0.00015 + 1 x 0.0006


def test_it_retries_a_transient_error_and_logs_every_attempt(fast_retries, db):
    model = ScriptedModel([TransientModelError("HTTP 429: slow down"), TransientModelError("HTTP 503"), "Fine."])
    call = call_model(prompt="Analyse.", step_id="analyze", client=model)
    assert call.response == "Fine." and call.attempt == 3
    rows = list(LLMCall.objects.filter(step_id="analyze").order_by("attempt"))
    assert [row.attempt for row in rows] == [1, 2, 3]
    assert rows[0].error == "TransientModelError: HTTP 429: slow down"
    assert rows[1].error == "TransientModelError: HTTP 503"
    assert rows[2].error == ""


def test_it_gives_up_once_the_retry_budget_is_spent(fast_retries, db):
    fast_retries.LLM_RETRY_BUDGET_SECONDS = 0.2
    fast_retries.LLM_RETRY_BASE_SECONDS = 0.02
    model = ScriptedModel([TransientModelError("HTTP 500", status=500)] * 1000)
    with pytest.raises(TransientModelError, match=r"gave up after \d+ attempts .*; last error: HTTP 500"):
        call_model(prompt="Analyse.", step_id="analyze", client=model)
    attempts = 1000 - len(model.answers)
    assert attempts > 1
    assert LLMCall.objects.filter(step_id="analyze").exclude(error="").count() == attempts


def test_it_gives_up_at_once_when_the_provider_asks_to_wait_beyond_the_budget(fast_retries, db):
    fast_retries.LLM_RETRY_BUDGET_SECONDS = 10
    model = ScriptedModel([TransientModelError("HTTP 429", status=429, retry_after=60), "never asked"])
    with pytest.raises(TransientModelError, match="gave up after 1 attempts"):
        call_model(prompt="Analyse.", step_id="analyze", client=model)
    assert model.answers == ["never asked"]


def test_it_does_not_retry_a_permanent_error(fast_retries, db):
    model = ScriptedModel([ModelError("HTTP 401: invalid key"), "never asked"])
    with pytest.raises(ModelError, match="invalid key"):
        call_model(prompt="Analyse.", step_id="analyze", client=model)
    assert LLMCall.objects.get(step_id="analyze").error == "ModelError: HTTP 401: invalid key"
    assert model.answers == ["never asked"]


def test_it_backs_off_with_full_jitter_doubling_up_to_the_cap(settings):
    settings.LLM_RETRY_BASE_SECONDS, settings.LLM_RETRY_MAX_DELAY_SECONDS = 1.0, 5.0
    settings.LLM_RETRY_BUDGET_SECONDS = 1000
    for _ in range(50):
        budget = RetryBudget()
        delays = [budget.next_delay(TransientModelError("HTTP 503", status=503)) for _ in range(5)]
        assert all(0 <= delay <= bound for delay, bound in zip(delays, [1, 2, 4, 5, 5], strict=True))


def test_it_waits_at_least_what_the_provider_asks(settings):
    settings.LLM_RETRY_BASE_SECONDS, settings.LLM_RETRY_BUDGET_SECONDS = 1.0, 1000
    for _ in range(50):
        delay = RetryBudget().next_delay(TransientModelError("HTTP 429", status=429, retry_after=7))
        assert 7 <= delay <= 8


def test_it_sums_the_cost_of_an_execution_and_of_a_decision(fast_retries, execution):
    from broker.models import Instrument
    from execution.models import Decision

    for symbol in ("AAPL", "AAPL", "MSFT"):
        call_model(
            prompt="x", execution_id=execution.pk, symbol=symbol, client=ScriptedModel(["y"], "gpt-4o", (1000, 0))
        )
    assert execution_cost(execution.pk) == Decimal("0.0075")
    instrument = Instrument.objects.create(conid=265598, symbol="AAPL", exchange="SMART", currency="USD")
    decision = Decision.objects.create(execution=execution, instrument=instrument, type="hold")
    assert decision_cost(decision) == Decimal("0.005")
