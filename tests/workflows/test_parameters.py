import pytest

from workflows.parameters import ParameterError, merge_parameters, resolve_config

DECLARED = [
    {"name": "model", "type": "string", "default": "gpt-4o-mini", "description": ""},
    {"name": "risk_per_trade", "type": "number", "default": 0.01},
    {"name": "use_monthly", "type": "boolean", "default": False},
    {"name": "indicators", "type": "list", "default": ["rsi", "macd"]},
]


def test_it_merges_defaults_strategy_then_request():
    merged = merge_parameters(DECLARED, {"model": "gpt-4o", "risk_per_trade": 0.02}, {"risk_per_trade": "0.005"})
    assert merged["model"] == "gpt-4o"
    assert merged["risk_per_trade"] == 0.005
    assert merged["use_monthly"] is False
    assert merged["indicators"] == ["rsi", "macd"]


def test_every_workflow_gets_the_builtin_parameters():
    merged = merge_parameters([], {}, {})
    assert merged == {"symbol_delay": 60, "analysis_language": "en"}
    assert merge_parameters([], {}, {"analysis_language": "zh-Hant"})["analysis_language"] == "zh-Hant"


def test_a_workflow_may_change_a_builtin_default():
    assert merge_parameters([{"name": "symbol_delay", "type": "number", "default": 5}], {}, {})["symbol_delay"] == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("No", False), (1, True), ("0", False), (True, True)],
)
def test_booleans_are_coerced(value, expected):
    assert merge_parameters(DECLARED, {}, {"use_monthly": value})["use_monthly"] is expected


def test_lists_accept_comma_separated_text():
    assert merge_parameters(DECLARED, {}, {"indicators": "rsi, atr"})["indicators"] == ["rsi", "atr"]


def test_bad_values_are_all_reported_with_their_names():
    with pytest.raises(ParameterError) as raised:
        merge_parameters(
            DECLARED,
            {},
            {"risk_per_trade": "a lot", "use_monthly": "maybe", "analysis_language": "fr", "symbol_delay": -1,
             "colour": "red"},
        )
    errors = raised.value.errors
    assert set(errors) == {"risk_per_trade", "use_monthly", "analysis_language", "symbol_delay", "colour"}
    assert "must be a number" in errors["risk_per_trade"]
    assert "en, zh-Hant" in errors["analysis_language"]
    assert "not a parameter" in errors["colour"]


def test_strategy_settings_pass_through_unchanged():
    merged = merge_parameters(DECLARED, {"autogen_config": {"max_rounds": 4}}, {})
    assert merged["autogen_config"] == {"max_rounds": 4}


def test_a_parameter_without_default_must_be_given():
    declared = [{"name": "account", "type": "string", "default": None}]
    with pytest.raises(ParameterError, match="account: has no default"):
        merge_parameters(declared, {}, {})
    assert merge_parameters(declared, {"account": "U1"}, {})["account"] == "U1"


def test_a_whole_value_reference_keeps_the_parameter_type():
    config = {"risk_per_trade": "{{risk_per_trade}}", "indicators": "{{ indicators }}", "flag": "{{use_monthly}}"}
    resolved = resolve_config(config, {"risk_per_trade": 0.02, "indicators": ["rsi"], "use_monthly": True})
    assert resolved == {"risk_per_trade": 0.02, "indicators": ["rsi"], "flag": True}


def test_references_inside_text_become_text_and_unknown_names_stay():
    config = {"prompt_template": "Risk {{risk_per_trade}} on {{symbol}} in {{analysis.daily}}", "agents": [
        {"name": "Executor", "model": "{{model}}"}]}
    resolved = resolve_config(config, {"risk_per_trade": 0.02, "model": "gpt-4o"})
    assert resolved["prompt_template"] == "Risk 0.02 on {{symbol}} in {{analysis.daily}}"
    assert resolved["agents"] == [{"name": "Executor", "model": "gpt-4o"}]
