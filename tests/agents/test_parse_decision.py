import json
from decimal import Decimal

import pytest

from agents.decisions import InvalidDecision, jsonable_decision, parse_decision

GOOD = {
    "decision": "BUY",
    "current_price": 100.5,
    "target_price": 110,
    "stop_loss": 96.25,
    "confidence": 0.7,
    "key_factors": ["uptrend", "MACD above signal"],
    "analysis": "Strong trend.",
}


def answer(**changes):
    data = {**GOOD, **changes}
    return json.dumps({key: value for key, value in data.items() if value is not ...})


def test_it_accepts_a_good_decision_with_exact_decimal_prices():
    decision = parse_decision(answer())
    assert decision == {
        "decision": "BUY",
        "current_price": Decimal("100.5"),
        "target_price": Decimal("110"),
        "stop_loss": Decimal("96.25"),
        "confidence": Decimal("0.7"),
        "key_factors": ["uptrend", "MACD above signal"],
        "analysis": "Strong trend.",
    }
    assert jsonable_decision(decision)["stop_loss"] == "96.25"


def test_it_accepts_json_in_code_fences_or_after_a_sentence():
    assert parse_decision(f"```json\n{answer()}\n```")["decision"] == "BUY"
    assert (
        parse_decision(f"Here is my decision:\n{answer(decision='sell', target_price=90, stop_loss=104)}")["decision"]
        == "SELL"
    )


def test_it_accepts_a_hold_without_levels():
    decision = parse_decision(answer(decision="HOLD", target_price=None, stop_loss=None))
    assert decision["decision"] == "HOLD" and decision["target_price"] is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the answer is empty"),
        ("I think you should buy.", "not valid JSON"),
        ('{"decision": "BUY",', "not valid JSON"),
        ("[1, 2]", "must be a JSON object, not a JSON list"),
        (answer(decision="LONG"), "decision must be one of BUY, SELL, HOLD, not 'LONG'"),
        (answer(decision=...), "decision is missing"),
        (answer(current_price="100"), "current_price must be a number, not '100'"),
        (answer(current_price=-5), "current_price must be positive"),
        (answer(target_price=None), "target_price is null (required for BUY)"),
        (answer(stop_loss=...), "stop_loss is missing (required for BUY)"),
        (answer(confidence=75), "confidence must be between 0 and 1, not 75"),
        (answer(confidence=True), "confidence must be a number"),
        (answer(key_factors="uptrend"), "key_factors must be a list of strings"),
        (answer(analysis=...), "analysis is missing"),
        (answer(stop_loss=101), "for BUY stop_loss (101) must be below current_price (100.5)"),
        (answer(target_price=99), "for BUY target_price (99) must be above current_price (100.5)"),
        (answer(decision="SELL"), "for SELL stop_loss (96.25) must be above current_price (100.5)"),
    ],
)
def test_it_refuses_bad_output_saying_what_is_wrong(text, message):
    with pytest.raises(InvalidDecision) as caught:
        parse_decision(text)
    assert message in str(caught.value)


def test_it_lists_every_problem_at_once():
    with pytest.raises(InvalidDecision) as caught:
        parse_decision(answer(confidence=2, stop_loss=120, key_factors=[1]))
    assert len(caught.value.errors) == 3
