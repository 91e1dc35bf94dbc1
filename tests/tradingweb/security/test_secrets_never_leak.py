"""Secrets come from the environment and never leave: not in the health report, API answers, exports,
the admin, the logs of a model call, or webhook payloads.

Each secret setting holds a marker value; any output containing the marker is a leak.
"""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest
from django.test import Client

from agents.calls import call_model
from agents.clients import ModelError
from agents.models import LLMCall
from execution.models import Notification, NotificationPreference, StepRun, WorkflowExecution
from execution.notifications import deliver_notification, notify
from execution.runner import run_execution
from execution.services import execution_create
from tests.support.fake_openai import fake_openai_server
from tests.tradingweb.security.clients import token_client
from tests.tradingweb.security.discovery import admin_urls, api_endpoints
from workflows.models import WorkflowVersion
from workflows.services import strategy_create, workflow_create
from workflows.templates import TEMPLATES_BY_TYPE

MARKER = "LEAKMARK"
SECRETS = {
    "LLM_API_KEY": f"sk-{MARKER}-llm",
    "AWS_ACCESS_KEY_ID": f"AKIA{MARKER}",
    "AWS_SECRET_ACCESS_KEY": f"{MARKER}-aws-secret",
    "SECRET_KEY": f"{MARKER}-django-secret-key-long-enough-for-django-checks",
}


@pytest.fixture
def secret_settings(settings):
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    return settings


def assert_no_secret(text: str, where: str):
    assert MARKER not in text, f"a secret shows in {where}"


def test_the_health_report_shows_no_secret_not_even_the_queue_password(api_client, secret_settings):
    broker = urlparse(secret_settings.CELERY_BROKER_URL)
    if broker.scheme == "redis":
        secret_settings.CELERY_BROKER_URL = broker._replace(netloc=f":{MARKER}@{broker.netloc}").geturl()
    response = api_client.get("/api/health/")
    assert response.status_code in (200, 503)
    assert_no_secret(response.content.decode(), "/api/health/")


def test_no_api_answer_shows_a_secret(alice, staff, alice_world, secret_settings):
    for endpoint in api_endpoints():
        if "GET" not in endpoint.methods:
            continue
        url = endpoint.url(alice_world)
        for client in (token_client(alice), token_client(staff)):
            response = client.get(url, endpoint.query(alice_world))
            assert_no_secret(response.content.decode(errors="replace"), f"GET {url}")


def test_workflow_exports_drop_credentials_kept_in_step_configs(client, alice, alice_world):
    version = alice_world.workflow.current_version
    steps = [
        {
            **version.steps[0],
            "config": {
                **version.steps[0]["config"],
                "api_key": f"{MARKER}-in-config",
                "feed": f"https://trader:{MARKER}@data.example.com/bars",
            },
        },
        *version.steps[1:],
    ]
    WorkflowVersion.objects.filter(pk=version.pk).update(steps=steps)
    client.force_login(alice)

    api_export = token_client(alice).get(f"/api/workflows/{alice_world.workflow.pk}/export/")
    page_export = client.get(f"/workflows/{alice_world.workflow.pk}/export/")

    assert api_export.status_code == page_export.status_code == 200
    assert_no_secret(api_export.content.decode(), "the API export")
    assert_no_secret(page_export.content.decode(), "the downloaded export")
    assert "data.example.com/bars" in api_export.content.decode()


def test_the_admin_shows_no_secret(staff, alice_world, secret_settings):
    client = Client()
    client.force_login(staff)
    for page in admin_urls(staff):
        response = client.get(page, follow=True)  # a singleton's list redirects to its one row
        assert response.status_code == 200, f"GET {page}: {response.status_code}"
        assert_no_secret(response.content.decode(), page)


@pytest.fixture
def llm_server(settings):
    """An OpenAI-compatible server: the real `openai` client talks to it with the secret key."""
    with fake_openai_server() as server:
        settings.LLM_PROVIDER = "openai"
        settings.LLM_BASE_URL = server.url
        settings.LLM_MODEL = "gpt-4o"
        settings.LLM_TIMEOUT = 5.0
        settings.LLM_RETRY_BASE_SECONDS = 0
        yield server


def test_model_calls_and_their_failures_never_log_the_api_key(alice_world, secret_settings, llm_server, caplog):
    caplog.set_level(logging.DEBUG)
    llm_server.script = [(500, "upstream failed", 0), (401, "Incorrect API key provided", 0)]
    with pytest.raises(ModelError):
        call_model(prompt="Analyse ZZAL.", execution_id=alice_world.execution.pk, symbol="ZZAL")
    call_model(prompt="Analyse ZZAL again.", execution_id=alice_world.execution.pk, symbol="ZZAL")

    assert llm_server.requests[0]["headers"]["authorization"] == f"Bearer {SECRETS['LLM_API_KEY']}"
    assert_no_secret(caplog.text, "the logs")
    stored = json.dumps(list(LLMCall.objects.values()), default=str)
    assert_no_secret(stored, "the stored model calls")


@pytest.mark.django_db(transaction=True)
def test_a_workflow_run_with_the_real_provider_never_logs_the_api_key(alice, secret_settings, llm_server, caplog):
    """A whole run: the model answers prose where a decision is due, so the error paths are taken too."""
    caplog.set_level(logging.DEBUG)
    secret_settings.CHART_WIDTH, secret_settings.CHART_HEIGHT = 480, 320
    llm_server.script = [(500, "upstream failed", 0)]
    template = TEMPLATES_BY_TYPE["single_timeframe"]
    workflow = workflow_create(
        owner=alice, name="Run", steps=template["steps"], parameters=template["parameters"], type="single_timeframe"
    )
    strategy = strategy_create(owner=alice, name="Run", workflow=workflow, symbols=["AAPL"])
    execution = execution_create(
        owner=alice, workflow=workflow, strategy=strategy, dry_run=True, params={"symbol_delay": 0}
    )

    run_execution(execution.pk)

    assert any(request["headers"]["authorization"].endswith(MARKER + "-llm") for request in llm_server.requests)
    assert_no_secret(caplog.text, "the logs of the run")
    stored = json.dumps([list(model.objects.values()) for model in (WorkflowExecution, StepRun, LLMCall)], default=str)
    assert_no_secret(stored, "the run's records")


class WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server API
        self.server.payloads.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.send_response(200)
        self.end_headers()

    def log_message(self, format, *args):
        pass


def test_webhook_payloads_never_carry_secrets_from_the_event_data(alice, settings):
    settings.OUTBOUND_ALLOWED = ["127.0.0.1/32"]  # the receiver is on loopback, which staff must allow
    server = ThreadingHTTPServer(("127.0.0.1", 0), WebhookHandler)
    server.payloads = []
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        NotificationPreference.objects.create(owner=alice, webhook_url=f"http://127.0.0.1:{server.server_address[1]}/")
        notification = notify(
            alice,
            Notification.Kind.ORDER_FILLED,
            "Order filled",
            data={"symbol": "ZZAL", "api_key": MARKER, "broker": {"password": MARKER, "account_token": MARKER}},
        )
        deliver_notification(notification)
    finally:
        server.shutdown()
        server.server_close()

    assert len(server.payloads) == 1 and "ZZAL" in server.payloads[0]
    assert_no_secret(server.payloads[0], "the webhook payload")
