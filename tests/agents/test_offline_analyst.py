import json
from decimal import Decimal

import pytest

from agents.calls import get_model_client
from agents.clients import ModelError
from agents.decisions import DECISION_SCHEMA, parse_decision
from agents.offline import OfflineAnalyst
from agents.prompts import analysis_prompt, consolidate_prompt, decision_prompt
from tests.agents.conftest import BEARISH, BULLISH, FLAT


def ask(prompt, **kwargs):
    return OfflineAnalyst().complete([{"role": "user", "content": prompt}], **kwargs)


def decision_for(summaries, price=None, language="en"):
    first = next(iter(summaries.values()))
    prompt = decision_prompt(
        symbol="AAPL",
        analysis="(consolidated analysis)",
        current_price=price or first["last_close"],
        summaries=summaries,
        analysis_language=language,
    )
    return parse_decision(ask(prompt).text)


def test_it_answers_the_same_prompt_with_the_same_text():
    prompt = decision_prompt(symbol="AAPL", analysis="x", current_price=110, summaries={"1d": BULLISH, "1w": BULLISH})
    answers = {ask(prompt).text for _ in range(3)}
    assert len(answers) == 1


def test_it_writes_an_analysis_with_every_section():
    completion = ask(analysis_prompt(symbol="AAPL", timeframe="1d", summary=BULLISH))
    paragraphs = completion.text.split("\n\n")
    assert paragraphs[0] == "AAPL technical analysis (1d)"
    for heading in ("Trend:", "Momentum:", "Volatility:", "Levels:", "Conclusion:"):
        assert any(paragraph.startswith(heading) for paragraph in paragraphs), heading
    assert "golden cross" in completion.text
    assert "bullish" in completion.text
    assert completion.provider == "offline" and completion.model == "offline-analyst"
    assert completion.tokens_in > 0 and completion.tokens_out == pytest.approx(len(completion.text) / 4, abs=1)


def test_it_buys_a_bullish_market_with_stop_below_and_target_above():
    decision = decision_for({"1d": BULLISH, "1w": BULLISH})
    assert decision["decision"] == "BUY"
    assert decision["stop_loss"] < decision["current_price"] < decision["target_price"]
    reward_risk = (decision["target_price"] - decision["current_price"]) / (
        decision["current_price"] - decision["stop_loss"]
    )
    assert reward_risk >= Decimal("1.5")
    assert Decimal("0.5") < decision["confidence"] <= 1
    assert decision["key_factors"] and decision["analysis"]


def test_it_sells_a_bearish_market_with_target_below_and_stop_above():
    decision = decision_for({"1d": BEARISH, "1w": BEARISH})
    assert decision["decision"] == "SELL"
    assert decision["target_price"] < decision["current_price"] < decision["stop_loss"]
    # Resistance at 100 is 5 ATR away, too far for the stop: 2 ATR above the price instead.
    assert decision["stop_loss"] == Decimal("94.0")
    assert decision["target_price"] == Decimal("80.0")  # the support


def test_it_holds_a_flat_market():
    decision = decision_for({"1d": FLAT})
    assert decision["decision"] == "HOLD"
    assert decision["target_price"] is None and decision["stop_loss"] is None
    assert "too weak or mixed" in decision["key_factors"][0]


def test_it_holds_when_timeframes_disagree():
    decision = decision_for({"1d": BULLISH, "1w": BEARISH})
    assert decision["decision"] == "HOLD"
    assert "disagree" in decision["analysis"]


def test_it_holds_when_reward_to_risk_is_poor():
    # Support 2 ATR below puts the stop at 105.5; resistance 2.5 ATR above caps the target at 115: 5 / 4.5 = 1.1 R.
    cramped = {**BULLISH, "support": 106.0, "resistance": 115.0}
    decision = decision_for({"1d": cramped})
    assert decision["decision"] == "HOLD"
    assert "1.11R (target 115.00, stop 105.50), below the 1.5R minimum" in decision["analysis"]


def test_it_projects_the_target_when_resistance_is_being_tested():
    decision = decision_for({"1d": BULLISH})  # resistance 111 is half an ATR above 110
    assert decision["decision"] == "BUY"
    assert (decision["stop_loss"], decision["target_price"]) == (Decimal("106.00"), Decimal("118.00"))


def test_it_places_the_stop_under_nearby_support():
    decision = decision_for({"1d": {**BULLISH, "support": 106.0, "resistance": 125.0}})
    assert decision["decision"] == "BUY"
    assert decision["stop_loss"] == Decimal("105.5")  # support 106 - 0.25 x ATR 2
    assert decision["target_price"] == Decimal("125.0")


def test_it_uses_the_current_price_line_over_the_last_close():
    decision = decision_for({"1d": BULLISH}, price="109.5")
    assert decision["current_price"] == Decimal("109.5")


def test_it_writes_traditional_chinese_when_asked():
    analysis = ask(analysis_prompt(symbol="AAPL", timeframe="1d", summary=BULLISH, analysis_language="zh-Hant")).text
    assert analysis.startswith("AAPL 技術分析")
    for heading in ("趨勢：", "動能：", "波動性：", "關鍵價位：", "結論："):
        assert heading in analysis
    assert "technical analysis" not in analysis

    decision = decision_for({"1d": BULLISH}, language="zh-Hant")
    assert decision["decision"] == "BUY"  # the JSON keys and values stay English
    assert "做多" in decision["analysis"]


def test_it_consolidates_several_timeframes():
    prompt = consolidate_prompt(
        symbol="MSFT",
        analyses={"1d": "daily looks strong", "1w": "weekly looks strong"},
        summaries={"1d": BULLISH, "1w": {**BULLISH, "rsi": 75.0}},
    )
    text = ask(prompt).text
    assert text.startswith("MSFT technical analysis (1d, 1w)")
    momentum = next(paragraph for paragraph in text.split("\n\n") if paragraph.startswith("Momentum:"))
    assert momentum.index("1w: ") < momentum.index("RSI 75.0 is overbought")


def test_it_answers_json_when_a_schema_is_requested():
    completion = ask(analysis_prompt(symbol="AAPL", timeframe="1d", summary=BULLISH), json_schema=DECISION_SCHEMA)
    assert json.loads(completion.text)["decision"] == "BUY"


def test_it_refuses_a_prompt_without_indicators():
    with pytest.raises(ModelError, match="between <indicators> and </indicators>"):
        ask("What do you think of AAPL?")


def test_it_refuses_a_broken_indicator_block():
    with pytest.raises(ModelError, match="indicator block 1 is not valid JSON"):
        ask("<indicators>{not json</indicators>")


def test_it_is_the_client_when_no_provider_is_configured(offline):
    assert isinstance(get_model_client(), OfflineAnalyst)
    assert isinstance(get_model_client("gpt-4o"), OfflineAnalyst)


def test_it_is_the_client_when_named_even_with_a_provider(settings):
    settings.LLM_PROVIDER = "openai"
    assert isinstance(get_model_client("offline-analyst"), OfflineAnalyst)
    assert get_model_client("gpt-4o-mini").model == "gpt-4o-mini"
