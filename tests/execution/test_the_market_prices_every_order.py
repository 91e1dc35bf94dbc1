"""The market prices every order, never the model.

The Single Timeframe workflow runs with the real OpenAI client against a fake OpenAI-compatible
server (a paid LLM cannot exist here) whose decisions are priced off the market it is told in the
prompt ("Current price: X"): too high, too low, 100× off, with exits inverted, or right. Only the
right one reaches the simulated exchange, as a limit within the allowance of the market price
with its exits on the right sides; every other answer is rejected with a reason naming the
model's price and the market's. The clock is pinned to a weekday in market hours.
"""

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connections

from broker.models import Order, SimulatedOrder
from broker.risk import price_text
from execution.models import Decision, StepRun, WorkflowExecution
from execution.runner import run_execution
from execution.services import execution_create
from tests.execution.conftest import make_strategy, workflow_from_template
from tests.support.fake_openai import fake_openai_server

MARKET_HOURS = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)  # a Wednesday; the simulated market trades all weekday
CURRENT_PRICE = re.compile(r"Current price: ([0-9.]+)")
ALLOWANCE = Decimal("0.0005")  # place_order's default limit_allowance_bps, 5


def decision_answer(price: Decimal, target: Decimal, stop: Decimal, decision: str = "BUY") -> str:
    return json.dumps(
        {
            "decision": decision,
            "current_price": float(price),
            "target_price": float(target),
            "stop_loss": float(stop),
            "confidence": 0.8,
            "key_factors": ["uptrend"],
            "analysis": "Trend up above rising averages.",
        }
    )


def priced_model(levels, markets: list):
    """A responder answering analyses with text and decisions with `levels(market)` -> (price, target, stop),
    the market read from the prompt; each market it read is appended to `markets`."""

    def respond(body: dict) -> str:
        if "response_format" not in body:
            return "Bullish: the daily trend is up, price above its rising averages."
        prompt = body["messages"][-1]["content"]
        text = prompt if isinstance(prompt, str) else " ".join(part.get("text", "") for part in prompt)
        market = Decimal(CURRENT_PRICE.search(text).group(1))
        markets.append(market)
        return decision_answer(*model_levels(levels, market))

    return respond


def model_levels(levels, market: Decimal) -> list[Decimal]:
    return [value.quantize(Decimal("0.01")) for value in levels(market)]


@pytest.fixture
def market_hours():
    with time_machine.travel(MARKET_HOURS):
        yield


@pytest.fixture
def run_with_model(settings, alice, market_hours):
    """Runs the Single Timeframe workflow on AAPL with approval off; the model answers with `levels`."""
    settings.CHART_WIDTH, settings.CHART_HEIGHT = 480, 320

    def run(levels) -> tuple[WorkflowExecution, Decimal]:
        markets = []
        with fake_openai_server(priced_model(levels, markets)) as server:
            settings.LLM_PROVIDER = "openai"
            settings.LLM_BASE_URL = server.url
            settings.LLM_API_KEY = "sk-test-key"
            settings.LLM_MODEL = "gpt-4o"
            settings.LLM_RETRY_BASE_SECONDS = 0
            strategy = make_strategy(alice, workflow_from_template(alice, "single_timeframe"), symbols=("AAPL",))
            execution = execution_create(owner=alice, strategy=strategy, params={"symbol_delay": 0})
            try:
                run_execution(execution.pk)
            finally:
                connections.close_all()
        assert markets, "the model was never asked for a decision"
        execution.refresh_from_db()
        return execution, markets[0]

    return run


def rejection(execution: WorkflowExecution) -> str:
    """Every reason the run gave for not ordering: the decision's rejection, or the decide step's error."""
    decision = Decision.objects.filter(execution=execution).first()
    reasons = list(decision.rejection_reasons) if decision else []
    reasons += [run.error for run in StepRun.objects.filter(execution=execution).exclude(error="")]
    return " | ".join(reasons)


WRONG_ANSWERS = {
    "30 % high": lambda market: (market * Decimal("1.3"), market * Decimal("1.43"), market * Decimal("1.235")),
    "30 % low": lambda market: (market * Decimal("0.7"), market * Decimal("0.77"), market * Decimal("0.665")),
    "100x off": lambda market: (market * 100, market * 110, market * 95),
    "exits inverted": lambda market: (market, market * Decimal("0.90"), market * Decimal("1.05")),
    "stop above the market": lambda market: (
        market * Decimal("1.005"),
        market * Decimal("1.10"),
        market * Decimal("1.002"),
    ),
}


def numbers(text: str) -> set[Decimal]:
    return {Decimal(number) for number in re.findall(r"\d+(?:\.\d+)?", text)}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("answer", WRONG_ANSWERS, ids=list(WRONG_ANSWERS))
def test_a_model_price_off_the_market_places_nothing_and_the_reason_names_both_prices(run_with_model, answer):
    execution, market = run_with_model(WRONG_ANSWERS[answer])

    assert not Order.objects.exists()
    assert not SimulatedOrder.objects.exists()
    assert execution.results.get("orders_placed", 0) == 0
    decision = Decision.objects.filter(execution=execution).first()
    if decision is not None:  # "exits inverted" contradicts itself: no decision is made of it
        assert decision.status == Decision.Status.REJECTED
        assert (decision.reference_price, decision.reference_source) == (market, "quote_last")
    reason = rejection(execution)
    model_price, target, stop = model_levels(WRONG_ANSWERS[answer], market)
    assert market in numbers(reason), reason
    assert {model_price, stop} & numbers(reason), reason


@pytest.mark.django_db(transaction=True)
def test_the_model_price_30_percent_high_is_rejected_saying_by_how_much(run_with_model):
    execution, _ = run_with_model(WRONG_ANSWERS["30 % high"])

    decision = Decision.objects.get(execution=execution)
    market = price_text(decision.reference_price)
    model = price_text(decision.current_price)
    assert f"The model's price {model} is 30.0 % above the market {market}" in decision.rejection_reasons[0]


@pytest.mark.django_db(transaction=True)
def test_a_model_within_the_tolerance_is_ordered_at_the_market_with_exits_on_the_right_sides(run_with_model):
    execution, _ = run_with_model(
        lambda market: (market * Decimal("1.004"), market * Decimal("1.10"), market * Decimal("0.95"))
    )

    decision = Decision.objects.get(execution=execution)
    assert decision.status == Decision.Status.EXECUTED, rejection(execution)
    market = decision.reference_price
    assert decision.current_price != market  # the model's echo is kept for the record, not traded on
    entry = Order.objects.get(execution=execution, parent__isnull=True)
    assert market <= entry.limit_price <= market * (1 + ALLOWANCE)
    legs = {leg.order_type: leg for leg in entry.children.all()}
    assert legs["STP"].stop_price < market < legs["LMT"].limit_price
    at_exchange = SimulatedOrder.objects.get(parent__isnull=True)
    assert at_exchange.limit_price == entry.limit_price
    exits = {leg.order_type: leg for leg in at_exchange.children.all()}
    assert exits["STP"].stop_price < market < exits["LMT"].limit_price


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("factor", [Decimal("0"), Decimal("-1")], ids=["zero", "negative"])
def test_a_price_that_is_no_price_places_nothing_and_says_so(run_with_model, factor):
    execution, market = run_with_model(
        lambda market: (market * factor, market * Decimal("1.1"), market * Decimal("0.95"))
    )

    assert not Order.objects.exists() and not SimulatedOrder.objects.exists()
    assert not Decision.objects.filter(execution=execution).exists()
    assert "current_price must be positive" in rejection(execution)
