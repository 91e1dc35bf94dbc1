"""A provider's limits hold for all our model calls together: threads, processes, AutoGen agents alike.

Calls go through `call_model` and the real clients to the fake OpenAI-compatible server, which
counts how many requests it is answering at once. Each test's provider has a name of its own, so
its counts in the shared Redis are its own.
"""

import logging
import os
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime

import pytest
from autogen_core.models import UserMessage
from django.db import connections
from django.test import Client

from agents.autogen_client import AgentTurn, OpenAIAgentBackend
from agents.calls import call_model
from agents.clients import OpenAICompatibleClient
from agents.limits import ProviderBusy, provider_capacity
from agents.models import LLMCall, ModelProvider
from agents.providers import ProviderLimits, default_provider, resolve_model
from tests.clock import clock_at
from tests.workers import ROOT, database_url


@pytest.fixture
def limited(llm_server, settings):
    """The default provider under a name of this test's own; `answers(n)` makes its next n answers take 0.3 s."""
    settings.LLM_PROVIDER_NAME = f"limited-{uuid.uuid4().hex[:8]}"
    llm_server.answers = lambda count: llm_server.script.extend([(200, "Hello from the server.", 0.3)] * count)
    return llm_server


def in_threads(count, function):
    """Run `function(i)` in `count` threads at once; returns what each raised (None: nothing)."""
    errors = [None] * count

    def run(index):
        try:
            function(index)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def single_llm_call(index):
    call_model(prompt=f"Analyse symbol {index}.", step_id="limited")


def agent_turn(index):
    provider, model = resolve_model("", "gpt-4o")
    backend = OpenAIAgentBackend(model, provider=provider)
    turn = AgentTurn(backend, [UserMessage(content=f"Turn {index}.", source="user")], [])
    call_model(prompt=f"Turn {index}.", client=turn, step_id="limited", agent_name="TechnicalAnalyst")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shared_through", ["redis", "this process"])
@pytest.mark.parametrize("call", [single_llm_call, agent_turn], ids=["single LLM", "AutoGen agent turn"])
def test_the_provider_never_sees_more_requests_at_once_than_its_limit(limited, settings, shared_through, call):
    settings.LLM_MAX_IN_FLIGHT = 2
    if shared_through == "this process":
        settings.REDIS_URL = ""

    limited.answers(6)

    errors = in_threads(6, call)

    assert errors == [None] * 6
    assert len(limited.requests) == 6
    assert limited.max_in_flight == 2
    assert LLMCall.objects.filter(step_id="limited", error="").count() == 6


@pytest.mark.django_db(transaction=True)
def test_without_limits_calls_go_at_once(limited, settings):
    """The counterpart: the server can answer six at once, so the test above can fail."""
    settings.LLM_MAX_IN_FLIGHT = 0
    limited.answers(6)
    client = OpenAICompatibleClient("gpt-4o", provider=default_provider())

    errors = in_threads(6, lambda index: call_model(prompt=f"Analyse {index}.", client=client))

    assert errors == [None] * 6 and limited.max_in_flight > 2


CALLER = """
import sys, threading
import django
django.setup()
from django.db import connections
from agents.calls import call_model

def one(index):
    try:
        call_model(prompt=f"Process call {index}.", step_id="shared-limit")
    finally:
        connections.close_all()

print("ready", flush=True)
sys.stdin.readline()
threads = [threading.Thread(target=one, args=(index,)) for index in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_for_two_processes_sharing_redis(limited, settings):
    limited.answers(8)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "LLM_PROVIDER": "openai",
        "LLM_BASE_URL": limited.url,
        "LLM_API_KEY": "sk-test-key",
        "LLM_PROVIDER_NAME": settings.LLM_PROVIDER_NAME,
        "LLM_MAX_IN_FLIGHT": "2",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CALLER], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready"
        for process in processes:  # both start their four calls together
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in processes:
            assert process.wait(timeout=120) == 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()

    assert len(limited.requests) == 8
    assert limited.max_in_flight == 2
    assert LLMCall.objects.filter(step_id="shared-limit", error="").count() == 8


class WaitSeen(logging.Handler):
    def __init__(self):
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record):
        if "waits for capacity" in record.getMessage():
            self.seen.set()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shared_through", ["redis", "this process"])
def test_the_call_that_would_exceed_the_tokens_per_minute_waits_for_the_window(llm_server, settings, shared_through):
    settings.LLM_PROVIDER_NAME = f"tpm-{uuid.uuid4().hex[:8]}"
    settings.LLM_TOKENS_PER_MINUTE = 2000
    if shared_through == "this process":
        settings.REDIS_URL = ""
    waits = WaitSeen()
    logging.getLogger("agents.limits").addHandler(waits)
    try:
        with clock_at(datetime(2026, 4, 15, 15, 0, tzinfo=UTC)) as clock:
            # Counted as 1 + 600 tokens until answered; the server reports 1500 used.
            call_model(prompt="One.", max_tokens=600, step_id="tpm")
            second = threading.Thread(target=single_tpm_call)
            second.start()
            assert waits.seen.wait(timeout=30)
            assert len(llm_server.requests) == 1  # 1500 + 601 would exceed 2000 this minute
            clock.shift(61)
            second.join(timeout=30)
    finally:
        logging.getLogger("agents.limits").removeHandler(waits)

    assert not second.is_alive()
    assert len(llm_server.requests) == 2
    assert LLMCall.objects.filter(step_id="tpm", error="").count() == 2


def single_tpm_call():
    try:
        call_model(prompt="Two.", max_tokens=600, step_id="tpm")
    finally:
        connections.close_all()


@pytest.mark.parametrize("shared_through", ["redis", "this process"])
def test_the_call_beyond_the_requests_per_minute_waits_for_the_window(settings, shared_through):
    if shared_through == "this process":
        settings.REDIS_URL = ""
    provider, limits = f"rpm-{uuid.uuid4().hex[:8]}", ProviderLimits(requests_per_minute=2)
    waits = WaitSeen()
    logging.getLogger("agents.limits").addHandler(waits)
    sent = []
    try:
        with clock_at(datetime(2026, 4, 15, 15, 0, tzinfo=UTC)) as clock:
            for index in range(2):
                with provider_capacity(provider, limits, tokens=10):
                    sent.append(index)
            third = threading.Thread(target=take_and_give_back, args=(provider, limits))
            third.start()
            assert waits.seen.wait(timeout=30)
            clock.shift(61)
            third.join(timeout=30)
    finally:
        logging.getLogger("agents.limits").removeHandler(waits)
    assert sent == [0, 1] and not third.is_alive()


def take_and_give_back(provider, limits):
    with provider_capacity(provider, limits, tokens=10):
        pass


def test_a_call_that_waits_too_long_for_room_fails_with_the_reason(settings):
    settings.LLM_LIMIT_WAIT_SECONDS = 0.3
    provider, limits = f"busy-{uuid.uuid4().hex[:8]}", ProviderLimits(max_in_flight=1)
    with provider_capacity(provider, limits, tokens=10):
        with pytest.raises(ProviderBusy, match=r"no capacity after waiting .*1 requests in flight"):
            with provider_capacity(provider, limits, tokens=10, model="gpt-4o"):
                pass
    with provider_capacity(provider, limits, tokens=10):
        pass  # the slot was given back


def test_a_slot_of_a_process_that_died_is_freed_after_its_deadline(settings):
    settings.LLM_TIMEOUT, settings.LLM_LIMIT_WAIT_SECONDS = 1.0, 120
    provider, limits = f"dead-{uuid.uuid4().hex[:8]}", ProviderLimits(max_in_flight=1)
    with clock_at(datetime(2026, 4, 15, 15, 0, tzinfo=UTC)) as clock:
        held = provider_capacity(provider, limits, tokens=10)
        held.__enter__()  # taken and never given back, as by a process killed mid-call
        clock.shift(60)
        with provider_capacity(provider, limits, tokens=10):
            pass


# --- staff set the limits in the admin ---------------------------------------------------


def provider_form(**limits):
    return {
        "name": "lab",
        "base_url": "http://vllm:8000/v1",
        "allowed_models": '["llama3"]',
        "prices-TOTAL_FORMS": "0",
        "prices-INITIAL_FORMS": "0",
        **limits,
    }


def test_staff_set_a_providers_limits_and_its_calls_keep_them(staff):
    client = Client()
    client.force_login(staff)

    response = client.post(
        "/admin/agents/modelprovider/add/",
        provider_form(max_in_flight="4", requests_per_minute="", tokens_per_minute="90000"),
    )

    assert response.status_code == 302
    row = ModelProvider.objects.get(name="lab")
    assert (row.max_in_flight, row.requests_per_minute, row.tokens_per_minute) == (4, None, 90000)
    provider, _ = resolve_model("lab", "llama3")
    assert provider.limits == ProviderLimits(max_in_flight=4, requests_per_minute=None, tokens_per_minute=90000)
    listing = client.get("/admin/agents/modelprovider/")
    assert "4 in flight, 90000 tokens/min" in listing.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_in_flight", "0", "greater than or equal to 1"),
        ("tokens_per_minute", "-5", "greater than or equal to 1"),
        ("requests_per_minute", "many", "Enter a whole number"),
    ],
)
def test_staff_cannot_save_a_limit_that_is_not_a_positive_whole_number(staff, field, value, message):
    client = Client()
    client.force_login(staff)

    response = client.post("/admin/agents/modelprovider/add/", provider_form(**{field: value}))

    assert response.status_code == 200 and message in response.content.decode()
    assert not ModelProvider.objects.exists()


def test_a_provider_without_limits_is_not_limited(db):
    ModelProvider.objects.create(name="open", base_url="http://open:8000/v1", allowed_models=["m"])
    provider, _ = resolve_model("open", "m")
    assert not provider.limits.any()
