"""The OpenAI-compatible provider, driven by the real `openai` client against a local server
that speaks the /v1/chat/completions protocol (a paid LLM cannot exist in tests)."""

import base64
import socket
from decimal import Decimal

import pytest

from agents.calls import call_model
from agents.clients import ModelError, OpenAICompatibleClient, TransientModelError
from agents.decisions import DECISION_SCHEMA
from agents.models import LLMCall


def test_it_sends_a_chat_completion_and_reads_usage(llm_server):
    completion = OpenAICompatibleClient().complete(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Analyse AAPL."}],
        temperature=0.3,
        max_tokens=500,
    )
    assert completion.text == "Hello from the server."
    assert (completion.tokens_in, completion.tokens_out) == (1200, 300)
    assert (completion.model, completion.provider) == ("gpt-4o-2024-08-06", "default")
    request = llm_server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-test-key"
    assert request["body"]["model"] == "gpt-4o"
    assert request["body"]["messages"][1] == {"role": "user", "content": "Analyse AAPL."}
    assert (request["body"]["temperature"], request["body"]["max_tokens"]) == (0.3, 500)
    assert "response_format" not in request["body"]


def test_it_sends_the_chart_as_a_base64_data_url_and_asks_for_the_schema(llm_server):
    png = b"\x89PNG\r\n\x1a\n chart bytes"
    OpenAICompatibleClient("gpt-4o-mini").complete(
        [{"role": "user", "content": "Decide."}], images=[png], json_schema=DECISION_SCHEMA
    )
    body = llm_server.requests[0]["body"]
    assert body["model"] == "gpt-4o-mini"
    text_part, image_part = body["messages"][0]["content"]
    assert text_part == {"type": "text", "text": "Decide."}
    assert image_part["type"] == "image_url"
    assert image_part["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(png).decode()
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "trading_decision"
    assert body["response_format"]["json_schema"]["schema"]["required"][0] == "decision"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_it_reports_rate_limits_and_server_errors_as_transient(llm_server, status):
    llm_server.script.append((status, "try later", 0))
    with pytest.raises(TransientModelError, match=f"HTTP {status}"):
        OpenAICompatibleClient().complete([{"role": "user", "content": "hi"}])
    assert len(llm_server.requests) == 1  # no hidden retries inside the client


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_it_reports_bad_requests_and_auth_failures_as_permanent(llm_server, status):
    llm_server.script.append((status, "no such model", 0))
    with pytest.raises(ModelError) as caught:
        OpenAICompatibleClient().complete([{"role": "user", "content": "hi"}])
    assert not isinstance(caught.value, TransientModelError)
    assert f"HTTP {status}" in str(caught.value) and "no such model" in str(caught.value)


def test_it_reports_a_timeout_as_transient(llm_server, settings):
    settings.LLM_TIMEOUT = 0.3
    llm_server.script.append((200, "too late", 1.0))
    with pytest.raises(TransientModelError, match="APITimeoutError"):
        OpenAICompatibleClient().complete([{"role": "user", "content": "hi"}])


def test_it_reports_a_refused_connection_as_transient(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.LLM_BASE_URL = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(TransientModelError, match="APIConnectionError"):
        OpenAICompatibleClient("gpt-4o").complete([{"role": "user", "content": "hi"}])


@pytest.mark.django_db
def test_call_model_retries_a_429_then_logs_the_answer_with_its_cost(llm_server):
    llm_server.script.append((429, "Rate limit reached", 0))
    call = call_model(prompt="Analyse AAPL.", model="gpt-4o-mini", step_id="analyze", symbol="AAPL")
    assert call.response == "Hello from the server."
    assert call.attempt == 2 and call.model == "gpt-4o-mini-2024-08-06" and call.provider == "default"
    assert call.cost == Decimal("0.000360")  # 1.2 x 0.00015 + 0.3 x 0.0006
    failed = LLMCall.objects.get(step_id="analyze", attempt=1)
    assert "HTTP 429" in failed.error and "Rate limit reached" in failed.error
    assert failed.model == "gpt-4o-mini"
    assert len(llm_server.requests) == 2
