"""The tools agents call: real risk arithmetic, honest 'no data', sandboxed code with limits."""

import asyncio
import json
from decimal import Decimal

import pytest
from autogen_core import CancellationToken
from django.core.files.storage import default_storage

from agents.sandbox import run_code
from agents.tools import (
    MAX_CODE_ATTEMPTS,
    bind_tool,
    fundamentals,
    news_sentiment,
    position_sizer,
    risk_calculator,
    run_python,
)
from tests.agents.team.conftest import desk


def test_the_risk_calculator_reports_r_size_risk_and_profit_potential():
    answer = json.loads(risk_calculator(desk(), "buy", 110.0, 118.0, 106.0))

    assert answer["r_coefficient"] == "2.0000"
    assert answer["position_size"] == 90  # 1% of 100,000 over a 4.00 risk per share, capped at 10%
    assert answer["risk_amount"] == "360.00" and answer["profit_potential"] == "720.00"
    assert answer["acceptable"] is True


def test_the_risk_calculator_refuses_levels_on_the_wrong_side():
    answer = json.loads(risk_calculator(desk(), "buy", 110.0, 100.0, 106.0))

    assert answer["acceptable"] is False and "Inconsistent levels" in answer["reasons"][0]


def test_the_position_sizer_risks_the_budget_within_the_cap():
    answer = json.loads(position_sizer(desk(), 50.0, 48.0))

    assert answer["quantity"] == 200 and answer["risk_amount"] == "400.00"


def test_a_bound_tool_answers_bad_arguments_with_an_error_for_the_model():
    tool = bind_tool("risk_calculator", desk())
    assert set(tool.schema["parameters"]["properties"]) == {"side", "entry_price", "target_price", "stop_loss"}
    args = tool.args_type()(side="sideways", entry_price=1, target_price=2, stop_loss=0.5)
    answer = json.loads(asyncio.run(tool.run(args, CancellationToken())))
    assert "side must be 'buy' or 'sell'" in answer["error"]


def test_without_a_provider_the_data_tools_say_there_is_no_data(settings):
    settings.AGENT_FUNDAMENTALS_PROVIDER = ""
    settings.AGENT_NEWS_PROVIDER = ""

    for tool in (fundamentals, news_sentiment):
        answer = json.loads(tool(desk()))
        assert answer["available"] is False and "no" in answer["message"].lower()


def provide_fundamentals(symbol):
    return {"pe_ratio": 28.5, "eps_growth": 0.12}


def test_a_configured_provider_answers_for_the_symbol(settings):
    settings.AGENT_FUNDAMENTALS_PROVIDER = "tests.agents.team.test_agent_tools.provide_fundamentals"

    answer = json.loads(fundamentals(desk()))

    assert answer == {"symbol": "AAPL", "available": True, "pe_ratio": 28.5, "eps_growth": 0.12}


def test_agent_code_runs_in_the_sandbox_at_most_three_times():
    trading = desk(summaries={"daily": {"atr14": 2.0}})
    trading.code_runner = lambda code, inputs: run_code(code, inputs=inputs, timeout=10).as_dict()

    first = json.loads(run_python(trading, "result = inputs['indicators']['daily']['atr14'] * 2"))
    assert first["ok"] is True and first["result"] == 4.0
    for _ in range(MAX_CODE_ATTEMPTS - 1):
        run_python(trading, "result = 1")
    with pytest.raises(ValueError, match="used up"):
        run_python(trading, "result = 1")


@pytest.mark.django_db
def test_a_code_result_over_one_megabyte_is_stored_with_a_reference():
    trading = desk()
    trading.execution_id = 7
    trading.code_runner = lambda code, inputs: {"ok": True, "result": "x" * (1024 * 1024 + 10)}

    answer = json.loads(run_python(trading, "result = 'x' * 2**20"))

    assert answer["stored"] is True and answer["reference"].startswith("agent_code/7/")
    with default_storage.open(answer["reference"]) as stored:
        assert json.loads(stored.read())["result"] == "x" * (1024 * 1024 + 10)
    default_storage.delete(answer["reference"])
    assert Decimal(answer["size_bytes"]) > 1024 * 1024
