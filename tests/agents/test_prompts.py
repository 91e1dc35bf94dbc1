import pytest

from agents.prompts import (
    ANALYSIS_PROMPT,
    CONSOLIDATE_PROMPT,
    DECISION_PROMPT,
    PromptError,
    analysis_prompt,
    decision_prompt,
    render_prompt,
)
from tests.agents.conftest import BULLISH


def test_it_substitutes_names_and_dotted_paths():
    text = render_prompt(
        "{{symbol}} at {{ quote.last }} ({{levels.0}})",
        {"symbol": "AAPL", "quote": {"last": 101.5}, "levels": [99, 105]},
    )
    assert text == "AAPL at 101.5 (99)"


def test_it_renders_structures_as_json_and_does_not_rescan_values():
    text = render_prompt("data: {{data}}", {"data": {"note": "{{not_a_name}}"}})
    assert '"note": "{{not_a_name}}"' in text


def test_it_keeps_literal_json_braces():
    assert render_prompt('Example: {"a": {"b": 1}} for {{x}}', {"x": "X"}) == 'Example: {"a": {"b": 1}} for X'
    assert render_prompt("{{{x}}}", {"x": "X"}) == "{X}"


@pytest.mark.parametrize(
    "template, message",
    [
        ("{{missing}}", "unknown name '{{missing}}'; known names: symbol"),
        ("{{symbol.name}}", "unknown name '{{symbol.name}}' (no 'name' in 'symbol')"),
        ("Hello {{symbol", "unclosed '{{' at character 6"),
        ("{{ symbol }} and {{", "unclosed '{{' at character 17"),
        ("{{}}", "malformed placeholder '{{}}'"),
        ("{{two words}}", "malformed placeholder '{{two words}}'"),
        ("{{ {{symbol}}", "unclosed '{{' at character 0"),
    ],
)
def test_it_refuses_unknown_names_and_malformed_braces(template, message):
    with pytest.raises(PromptError) as caught:
        render_prompt(template, {"symbol": "AAPL"})
    assert message in str(caught.value)


def test_each_default_template_carries_the_language_line():
    for template in (ANALYSIS_PROMPT, CONSOLIDATE_PROMPT, DECISION_PROMPT):
        assert "Language: {{analysis_language}}" in template
    prompt = analysis_prompt(symbol="AAPL", timeframe="1d", summary=BULLISH, analysis_language="zh-Hant")
    assert "\nLanguage: zh-Hant\n" in prompt
    assert "chart" in prompt and "attached" in prompt


def test_the_analysis_prompt_embeds_the_summary_between_markers():
    prompt = analysis_prompt(symbol="AAPL", timeframe="1d", summary=BULLISH)
    block = prompt[prompt.index("<indicators>") : prompt.index("</indicators>")]
    assert '"timeframe": "1d"' in block and '"last_close": 110.0' in block


def test_the_decision_prompt_embeds_price_and_schema():
    prompt = decision_prompt(symbol="AAPL", analysis="Up.", current_price="110.25", summaries={"1d": BULLISH})
    assert "\nCurrent price: 110.25\n" in prompt
    assert "<decision_schema>" in prompt and '"enum": [\n        "BUY"' in prompt


def test_it_refuses_an_unsupported_language():
    with pytest.raises(PromptError, match="analysis_language must be one of en, zh-Hant, not 'fr'"):
        analysis_prompt(symbol="AAPL", timeframe="1d", summary=BULLISH, analysis_language="fr")
