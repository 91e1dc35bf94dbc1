import pytest

from workflows.conditions import ConditionError, parse_condition

CONTEXT = {
    "symbol": "AAPL",
    "decision": {"type": "BUY", "confidence": 0.82, "key_factors": ["golden cross", "RSI 55"]},
    "analysis": {"daily": "Trend is Bullish above the 50-day SMA.", "weekly": "Sideways range."},
    "charts": [{"label": "daily"}],
    "risk": {"approved": False, "r_coefficient": "1.8"},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("decision.confidence > 0.7", True),
        ("decision.confidence >= 0.82 and decision.confidence <= 0.82", True),
        ("decision.confidence < 0.5", False),
        ('analysis.daily contains "bullish"', True),
        ('analysis.weekly contains "bullish"', False),
        ('analysis.weekly not contains "bullish"', True),
        ("decision.key_factors contains 'golden cross'", True),
        ("'RSI 55' in decision.key_factors", True),
        ("symbol matches '^AA'", True),
        ("symbol =~ '^MS'", False),
        ("decision.type == 'buy'", True),
        ("decision.type != 'SELL' and not risk.approved", True),
        ("risk.r_coefficient > 1.5", True),
        ("decision.confidence > 0.9 or (symbol == 'AAPL' and analysis.daily contains 'SMA')", True),
        ("charts.0.label == 'daily'", True),
        ("missing.value > 1", False),
        ("missing.value == null", True),
        ("not decision", False),
        ("TRUE", True),
    ],
)
def test_it_evaluates_expressions_over_the_context(expression, expected):
    assert parse_condition(expression).evaluate(CONTEXT) is expected


def test_it_lists_the_paths_an_expression_reads():
    condition = parse_condition("decision.confidence > 0.7 and analysis.daily contains 'x'")
    assert condition.paths == ["analysis.daily", "decision.confidence"]


@pytest.mark.parametrize(
    ("expression", "message_part"),
    [
        ("__import__('os').system('ls')", "names starting with '_'"),
        ("decision.__class__", "names starting with '_'"),
        ("open('secrets.txt')", "function calls are not allowed"),
        ("decision.confidence > ", "ends too early"),
        ("decision.confidence >> 1", "expected a value"),
        ("(symbol == 'A'", "missing ')'"),
        ("symbol == 'A' extra", "unexpected"),
        ("symbol; import os", "unexpected character ';'"),
        ("lambda: 1", "unexpected character ':'"),
        ("symbol matches '('", "invalid regular expression"),
        ("symbol matches decision.type", "needs a regular expression in quotes"),
        ("", "empty"),
    ],
)
def test_it_refuses_garbage_with_a_clear_message(expression, message_part):
    with pytest.raises(ConditionError, match=None) as raised:
        parse_condition(expression)
    assert message_part in str(raised.value)


def test_it_refuses_non_text_and_very_long_expressions():
    with pytest.raises(ConditionError):
        parse_condition(42)
    with pytest.raises(ConditionError, match="longer than"):
        parse_condition("symbol == 'A' or " * 200 + "true")


def test_it_reads_only_dicts_and_lists_never_attributes():
    class Secretive:
        confidence = 0.99

    assert parse_condition("decision.confidence > 0.5").evaluate({"decision": Secretive()}) is False


def test_ordering_text_against_a_number_is_an_error_at_evaluation():
    with pytest.raises(ConditionError, match="cannot compare"):
        parse_condition("decision.type > 3").evaluate(CONTEXT)


def test_a_pattern_that_backtracks_without_end_fails_with_an_error_instead_of_holding_the_worker():
    condition = parse_condition("analysis.daily matches '^(a|a)+$'")
    runaway = {"analysis": {"daily": "a" * 40 + "!"}}  # 2^40 ways to match the a's before the "!" fails

    with pytest.raises(ConditionError, match=r"took over 0.5 s on a text of 41 characters; simplify it"):
        condition.evaluate(runaway)

    assert condition.evaluate({"analysis": {"daily": "aaaa"}}) is True
