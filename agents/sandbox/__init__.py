"""The code sandbox: where custom_code steps and the code agents write run, isolated from the app.

Two ways to reach it, one sandbox (agents/sandbox/bubblewrap.py):
- here: this process starts bubblewrap itself (embedded and services mode);
- the sandbox service: with settings.SANDBOX_SOCKET set, the code goes over that Unix socket
  to `manage.py sandbox_server` (agents/sandbox/service.py), which in compose runs in a
  container with no network and none of the app's volumes. An unreachable service is a
  SandboxUnavailable naming it: nothing falls back to running the code here.
"""

import time

from django.conf import settings

from agents.sandbox import bubblewrap, service
from agents.sandbox.children import SandboxChildren, children_scope
from agents.sandbox.results import SandboxBusy, SandboxResult, SandboxStatus, SandboxUnavailable

__all__ = [
    "SandboxBusy",
    "SandboxChildren",
    "SandboxResult",
    "SandboxStatus",
    "SandboxUnavailable",
    "children_scope",
    "run_code",
    "sandbox_status",
]

STATUS_CACHE_SECONDS = 30
_status_cache: dict[tuple, tuple[float, SandboxStatus]] = {}  # (socket, bwrap path, unisolated) -> (probed at, status)


def run_code(
    code: str, *, inputs: dict | None = None, timeout: float | None = None, memory_mb: int | None = None
) -> SandboxResult:
    """Run `code` in the sandbox; its `inputs` variable holds `inputs`, its `result` variable comes back.

    `timeout` (default settings.SANDBOX_TIMEOUT_SECONDS, at most 300 s) covers the whole child,
    imports included; memory is at most settings.SANDBOX_MEMORY_MB (the service's, with a service).

    Raises SandboxUnavailable when isolation cannot be set up or the service cannot be reached,
    SandboxBusy (a SandboxUnavailable) when the service has no sandbox free;
    never raises for anything the code does: the SandboxResult says what happened.
    """
    if settings.SANDBOX_SOCKET:
        return service.run_remotely(
            settings.SANDBOX_SOCKET,
            code,
            inputs=inputs,
            timeout=timeout,
            memory_mb=memory_mb,
            default_timeout=settings.SANDBOX_TIMEOUT_SECONDS,
        )
    return bubblewrap.run_here(code, inputs=inputs, timeout=timeout, memory_mb=memory_mb)


def sandbox_status() -> SandboxStatus:
    """Whether untrusted code runs isolated, at most STATUS_CACHE_SECONDS old.

    The health check asks without a login, so one probe serves every request for a while.
    """
    key = (settings.SANDBOX_SOCKET, settings.SANDBOX_BWRAP_PATH, settings.SANDBOX_UNISOLATED)
    probed_at, status = _status_cache.get(key, (None, None))
    if status is None or time.monotonic() - probed_at > STATUS_CACHE_SECONDS:
        socket_path = settings.SANDBOX_SOCKET
        status = service.status_remotely(socket_path) if socket_path else bubblewrap.status_here()
        _status_cache[key] = (time.monotonic(), status)
    return status
