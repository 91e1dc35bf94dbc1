"""Health of the parts a trader depends on: database, task queue, file storage, broker, code sandbox.

`GET /api/health/` answers 200 while every critical component works and 503 as soon
as one does not. The broker connection is reported but not critical: workflows can be
built and reviewed while IB Gateway is down, and orders fail with their own errors.
The code sandbox is not critical either: without it only custom code and agents' code
fail (with an error saying what to install); the unisolated mode is reported as an error too.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from kombu import Connection
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

QUEUE_CONNECT_TIMEOUT_SECONDS = 2


@dataclass
class ComponentHealth:
    name: str
    ok: bool
    critical: bool
    message: str
    latency_ms: float = 0.0
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["status"] = "ok" if self.ok else "error"
        return data


def check_database() -> tuple[str, dict]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connection.vendor} reachable", {"vendor": connection.vendor}


def check_queue() -> tuple[str, dict]:
    """Connects to the Celery broker the way a worker would (Redis in every real mode)."""
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=QUEUE_CONNECT_TIMEOUT_SECONDS) as broker_connection:
        broker_connection.ensure_connection(max_retries=0, timeout=QUEUE_CONNECT_TIMEOUT_SECONDS)
        details = {"url": broker_connection.as_uri(), "transport": broker_connection.transport.driver_name}
        if details["transport"] == "redis":
            client = broker_connection.default_channel.client
            client.ping()
            details["server_version"] = client.info("server").get("redis_version", "")
    return f"{details['transport']} broker reachable at {details['url']}", details


def check_storage() -> tuple[str, dict]:
    """Writes and deletes a small probe file, which is what charts and uploads need."""
    name = default_storage.save(f"healthcheck/probe-{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    try:
        if not default_storage.exists(name):
            raise OSError(f"probe file {name} was not found after writing it")
    finally:
        default_storage.delete(name)
    backend = settings.STORAGES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"{backend} writable", {"backend": backend}


def check_broker_adapter() -> tuple[str, dict]:
    # Imported here: the broker app is optional for every other check and may fail on its own.
    from broker.adapters import get_adapter

    broker_status = get_adapter().status()
    details = {
        "adapter": broker_status.adapter,
        "connected": broker_status.connected,
        "authenticated": broker_status.authenticated,
        "account_id": broker_status.account_id,
        "paper": broker_status.paper,
    }
    if not (broker_status.connected and broker_status.authenticated):
        raise ConnectionError(broker_status.message or f"{broker_status.adapter} broker is not connected")
    mode = "paper" if broker_status.paper else "LIVE"
    message = broker_status.message or f"{broker_status.adapter} connected to {broker_status.account_id} ({mode})"
    return message, details


class ComponentDown(Exception):
    """A check's failure that still has details to report."""

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


def check_sandbox() -> tuple[str, dict]:
    # Imported here, like the broker: the sandbox belongs to the agents app.
    from agents.sandbox import sandbox_status

    sandbox = sandbox_status()
    details = {"mode": sandbox.mode, "isolated": sandbox.isolated}
    if not sandbox.ok:
        raise ComponentDown(sandbox.message, details)
    return sandbox.message, details


COMPONENT_CHECKS: list[tuple[str, bool, Callable[[], tuple[str, dict]]]] = [
    ("database", True, check_database),
    ("queue", True, check_queue),
    ("storage", True, check_storage),
    ("broker", False, check_broker_adapter),
    ("sandbox", False, check_sandbox),
]


def run_check(name: str, critical: bool, check: Callable[[], tuple[str, dict]]) -> ComponentHealth:
    started = time.perf_counter()
    try:
        message, details = check()
        ok = True
    except ComponentDown as exc:
        message, details, ok = str(exc), exc.details, False
    except Exception as exc:  # any failure of a component is its health report, never a 500
        message, details, ok = f"{type(exc).__name__}: {exc}", {}, False
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return ComponentHealth(name, ok, critical, message, latency_ms, details)


def system_health() -> dict:
    """Runs every check; `status` is "ok", "degraded" (a non-critical part is down) or "down"."""
    components = [run_check(name, critical, check) for name, critical, check in COMPONENT_CHECKS]
    if any(c.critical and not c.ok for c in components):
        overall = "down"
    elif all(c.ok for c in components):
        overall = "ok"
    else:
        overall = "degraded"
    return {"status": overall, "components": {c.name: c.as_dict() for c in components}}


class HealthView(APIView):
    """No authentication: load balancers, compose health checks and people ask it."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
    def get(self, request):
        report = system_health()
        code = status.HTTP_503_SERVICE_UNAVAILABLE if report["status"] == "down" else status.HTTP_200_OK
        return Response(report, status=code)
