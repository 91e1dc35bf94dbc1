"""A provider that refuses (429) or fails (5xx) for a while slows a model call down but does not fail it.

The real `openai` client talks to the fake OpenAI-compatible server; waits are kept short through
settings, and the server's own arrival times show that the provider's Retry-After was honoured.
"""

import logging
import time
import uuid
from email.utils import formatdate

import pytest

from agents.calls import call_model
from agents.clients import ModelError, TransientModelError, retry_after_seconds
from agents.limits import pause_provider
from agents.models import LLMCall
from agents.providers import default_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def short_waits(llm_server, settings):
    settings.LLM_RETRY_BASE_SECONDS = 0.02
    settings.LLM_RETRY_MAX_DELAY_SECONDS = 0.1
    settings.LLM_RETRY_BUDGET_SECONDS = 30
    return llm_server


def test_a_rate_limited_call_waits_as_long_as_retry_after_says_then_succeeds(short_waits, caplog):
    server = short_waits
    server.script += [(429, "Rate limit reached", 0, {"Retry-After": "1"})] * 2

    with caplog.at_level(logging.WARNING, logger="agents.calls"):
        call = call_model(prompt="Analyse AAPL.", model="gpt-4o-mini", step_id="analyze")

    assert call.response == "Hello from the server." and call.attempt == 3
    arrivals = [request["at"] for request in server.requests]
    assert len(arrivals) == 3
    assert arrivals[1] >= arrivals[0] + 1 and arrivals[2] >= arrivals[1] + 1
    assert LLMCall.objects.filter(step_id="analyze").exclude(error="").count() == 2
    retries = [record.getMessage() for record in caplog.records if "retrying in" in record.getMessage()]
    assert len(retries) == 2
    assert all("gpt-4o-mini at provider default" in line and "HTTP 429" in line for line in retries)
    assert all("(Retry-After 1 s)" in line for line in retries)


def test_retry_after_ms_is_honoured_before_retry_after(short_waits):
    server = short_waits
    server.script.append((429, "slow down", 0, {"retry-after-ms": "400", "Retry-After": "0"}))

    call_model(prompt="Analyse AAPL.", step_id="analyze")

    first, second = (request["at"] for request in server.requests)
    assert second >= first + 0.4


def test_a_provider_failing_with_503_for_a_while_fails_no_call(short_waits):
    server = short_waits
    server.script += [(503, "overloaded", 0)] * 8 + [(500, "oops", 0)] * 4

    call = call_model(prompt="Analyse AAPL.", step_id="analyze")

    assert call.response == "Hello from the server." and call.attempt == 13
    errors = list(LLMCall.objects.filter(step_id="analyze").exclude(error="").values_list("error", flat=True))
    assert len(errors) == 12 and all("HTTP 50" in error for error in errors)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_permanent_error_fails_at_once_with_what_the_provider_said(short_waits, status):
    server = short_waits
    server.script.append((status, "The model `gpt-5` does not exist", 0))

    with pytest.raises(ModelError) as failure:
        call_model(prompt="Analyse AAPL.", step_id="analyze")

    assert not isinstance(failure.value, TransientModelError)
    assert f"HTTP {status}" in str(failure.value) and "does not exist" in str(failure.value)
    assert "at provider default" in str(failure.value)
    assert len(server.requests) == 1


def test_a_provider_asking_to_wait_beyond_the_retry_budget_fails_the_call_with_the_reason(short_waits, settings):
    settings.LLM_RETRY_BUDGET_SECONDS = 5
    short_waits.script.append((429, "quota exhausted", 0, {"Retry-After": "3600"}))

    with pytest.raises(TransientModelError, match="gave up after 1 attempts .*LLM_RETRY_BUDGET_SECONDS=5.*HTTP 429"):
        call_model(prompt="Analyse AAPL.", step_id="analyze")

    assert len(short_waits.requests) == 1


def test_the_sdk_does_not_retry_on_its_own(short_waits):
    """One retry policy: each attempt is one request and one LLMCall row."""
    short_waits.script += [(429, "slow down", 0), (502, "bad gateway", 0)]

    call_model(prompt="Analyse AAPL.", step_id="analyze")

    assert len(short_waits.requests) == 3 == LLMCall.objects.filter(step_id="analyze").count()


def test_retry_after_holds_back_every_caller_of_a_limited_provider(short_waits, settings):
    settings.LLM_MAX_IN_FLIGHT = 10
    settings.LLM_PROVIDER_NAME = f"paused-{uuid.uuid4().hex[:8]}"  # counts of its own in the shared Redis
    paused_at = time.monotonic()
    pause_provider(settings.LLM_PROVIDER_NAME, default_provider().limits, 0.5)

    call_model(prompt="Analyse AAPL.", step_id="analyze")

    assert short_waits.requests[0]["at"] >= paused_at + 0.5


def test_retry_after_is_read_in_seconds_as_an_http_date_or_in_milliseconds():
    now = 1_750_000_000.0
    assert retry_after_seconds({"retry-after": "7"}, now) == 7
    assert retry_after_seconds({"retry-after": "1.5"}, now) == 1.5
    assert retry_after_seconds({"retry-after": formatdate(now + 30, usegmt=True)}, now) == 30
    assert retry_after_seconds({"retry-after": formatdate(now - 30, usegmt=True)}, now) == 0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}, now) == 0.25
    assert retry_after_seconds({"retry-after": "soon"}, now) is None
    assert retry_after_seconds({}, now) is None
