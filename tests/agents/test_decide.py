import json

import pytest

from agents.clients import ModelError
from agents.decisions import InvalidDecision, decide
from agents.models import LLMCall
from tests.agents.conftest import ScriptedModel

VALID = json.dumps(
    {
        "decision": "SELL",
        "current_price": 50,
        "target_price": 45,
        "stop_loss": 52,
        "confidence": 0.6,
        "key_factors": ["downtrend"],
        "analysis": "Weak.",
    }
)


@pytest.mark.django_db
def test_it_retries_garbage_with_a_prompt_that_quotes_the_error(fast_retries):
    model = ScriptedModel(["Sure! I would buy.", '{"decision": "MAYBE"}', VALID])
    decision, calls = decide(prompt="Decide for XYZ.", client=model, step_id="decide", symbol="XYZ")

    assert decision["decision"] == "SELL"
    assert [call.response for call in calls] == ["Sure! I would buy.", '{"decision": "MAYBE"}', VALID]
    assert LLMCall.objects.filter(symbol="XYZ", step_id="decide").count() == 3
    second_prompt = model.requests[1]["messages"][-1]["content"]
    assert second_prompt.startswith("Decide for XYZ.")
    assert "not valid JSON" in second_prompt and "Sure! I would buy." in second_prompt
    third_prompt = model.requests[2]["messages"][-1]["content"]
    assert "decision must be one of BUY, SELL, HOLD, not 'MAYBE'" in third_prompt
    assert "Sure! I would buy." not in third_prompt  # each retry quotes only the latest answer
    assert all(request["json_schema"]["title"] == "trading_decision" for request in model.requests)


@pytest.mark.django_db
def test_it_gives_up_after_three_invalid_answers(fast_retries):
    model = ScriptedModel(["no", "still no", "never"])
    with pytest.raises(InvalidDecision) as caught:
        decide(prompt="Decide.", client=model, step_id="decide", symbol="XYZ")
    assert "XYZ step decide: no valid decision after 3 answers" in str(caught.value)
    assert len(caught.value.calls) == 3


@pytest.mark.django_db
def test_it_passes_model_failures_through(fast_retries):
    model = ScriptedModel([ModelError("HTTP 401: bad key")])
    with pytest.raises(ModelError, match="bad key"):
        decide(prompt="Decide.", client=model)


@pytest.mark.django_db
def test_it_decides_offline_from_the_decision_prompt(offline):
    from agents.prompts import decision_prompt
    from tests.agents.conftest import BULLISH

    prompt = decision_prompt(symbol="AAPL", analysis="Bullish.", current_price=110, summaries={"1d": BULLISH})
    decision, calls = decide(prompt=prompt, step_id="decide", symbol="AAPL")
    assert decision["decision"] == "BUY"
    assert len(calls) == 1 and calls[0].model == "offline-analyst" and calls[0].cost == 0
