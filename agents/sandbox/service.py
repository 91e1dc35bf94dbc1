"""The sandbox service: a small server on a Unix socket that runs untrusted code for the workers.

In compose the sandbox runs in a container of its own, with no network and none of the app's
volumes; the workers keep Docker's default security profiles and send code here instead of
starting bubblewrap themselves (settings.SANDBOX_SOCKET). The service builds each sandbox with
agents/sandbox/bubblewrap.py, the same code the worker uses without a service.

One request per connection: the client writes one JSON object and closes its sending side, the
service answers one JSON object and closes. Requests:

- {"op": "run", "code": str, "inputs": object, "timeout": number | null, "memory_mb": int | null}
  → {"result": {…SandboxResult fields…}}, {"unavailable": message} (isolation cannot be set up)
  or {"busy": message} (see below);
- {"op": "status"} → {"status": {…SandboxStatus fields…}}.

Anything else (not JSON, too large, unknown fields, wrong types) → {"refused": message}, and
nothing runs. The service's own limits (SANDBOX_TIMEOUT_SECONDS, SANDBOX_MEMORY_MB) cap what a
request asks for.

At most SANDBOX_MAX_CONCURRENT sandboxes run at once; up to SANDBOX_MAX_WAITING more requests
wait for one (at most SLOT_WAIT_SECONDS); any other run request is answered "busy" at once.
A client that hangs up before its reply (a worker abandoning a step at its hard time limit)
has its sandbox killed.
"""

import functools
import json
import logging
import os
import select
import socket
import socketserver
import stat
import threading
from contextlib import contextmanager
from dataclasses import asdict, fields

from django.conf import settings

from agents.sandbox import bubblewrap
from agents.sandbox.children import SandboxChildren, children_scope, current_scope
from agents.sandbox.results import SandboxBusy, SandboxResult, SandboxStatus, SandboxUnavailable

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # code and inputs (indicator summaries); charts never travel
MAX_REPLY_BYTES = 16 * 1024 * 1024
READ_TIMEOUT_SECONDS = 10  # a client that connects and says nothing does not hold a thread
# On top of the code's timeout: the sandbox's start-up and the reply's way back.
REPLY_ALLOWANCE_SECONDS = 10
SOCKET_MODE = 0o660  # the workers share the service's user or group
RUN_FIELDS = {"op", "code", "inputs", "timeout", "memory_mb"}
START_HINT = "start it with `python manage.py sandbox_server` (the `sandbox` service in compose)"
SLOT_WAIT_SECONDS = 30  # how long a waiting request waits for a free sandbox before it is answered busy
KILLED_BY_HANG_UP = "sandbox: the process was killed (the run was abandoned)"


class RequestRefused(ValueError):
    """A request the service does not run: the message says what was wrong with it."""


class RunSlots:
    """At most `running` sandboxes at once, and at most `waiting` requests waiting for one; others are busy."""

    def __init__(self, running: int, waiting: int):
        self.running, self.max_waiting = running, waiting
        self.free = threading.BoundedSemaphore(running)
        self.lock = threading.Lock()
        self.waiting = 0

    @contextmanager
    def slot(self):
        """Holds a free sandbox for the block; SandboxBusy when none is free and the queue is full or slow."""
        if not self.free.acquire(blocking=False):
            with self.lock:
                if self.waiting >= self.max_waiting:
                    raise SandboxBusy(self._busy(f"{self.waiting} more are waiting"))
                self.waiting += 1
                logger.info("sandbox service: a run waits for a free sandbox (%d waiting)", self.waiting)
            try:
                got_one = self.free.acquire(timeout=SLOT_WAIT_SECONDS)
            finally:
                with self.lock:
                    self.waiting -= 1
            if not got_one:
                raise SandboxBusy(self._busy(f"none was free for {SLOT_WAIT_SECONDS} s"))
        try:
            yield
        finally:
            self.free.release()

    def _busy(self, why: str) -> str:
        return (
            f"sandbox: the sandbox service is busy: it runs {self.running} sandbox(es) at once "
            f"(SANDBOX_MAX_CONCURRENT) and {why}; the code did not run, try again later"
        )


def _refusal(exc: RequestRefused) -> dict:
    logger.warning("sandbox service: refused a request: %s", exc)
    return {"refused": f"sandbox service: refused the request: {exc}"}


def _read_until_closed(connection: socket.socket, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := connection.recv(65536):
        size += len(chunk)
        if size > limit:
            raise RequestRefused(f"the message is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _number(request: dict, name: str, kind: type) -> float | int | None:
    value = request.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        raise RequestRefused(f"{name} must be a positive {'integer' if kind is int else 'number'} or null")
    return value


def _run_request(request: dict, slots: RunSlots) -> dict:
    unknown = set(request) - RUN_FIELDS
    if unknown:
        raise RequestRefused(f"unknown fields: {', '.join(sorted(unknown))}")
    code, inputs = request.get("code"), request.get("inputs", {})
    if not isinstance(code, str):
        raise RequestRefused("code must be a string")
    if not isinstance(inputs, dict):
        raise RequestRefused("inputs must be an object")
    timeout = _number(request, "timeout", int | float)
    memory_mb = _number(request, "memory_mb", int)
    try:
        with slots.slot():
            outcome = bubblewrap.run_here(code, inputs=inputs, timeout=timeout, memory_mb=memory_mb)
    except SandboxBusy as exc:
        logger.warning("sandbox service: %s", exc)
        return {"busy": str(exc)}
    except SandboxUnavailable as exc:
        return {"unavailable": str(exc)}
    logger.info("sandbox service: ran %d characters of code: ok=%s, %d ms", len(code), outcome.ok, outcome.duration_ms)
    return {"result": asdict(outcome)}


def answer(message: bytes, *, slots: RunSlots) -> dict:
    """The service's reply to one request (a dict to send back as JSON); never raises for a bad request.

    A run takes one of `slots`; it is started in the current children_scope(), if any.
    """
    try:
        try:
            request = json.loads(message)
        except ValueError as exc:
            raise RequestRefused(f"the request is not JSON ({exc})") from exc
        if not isinstance(request, dict):
            raise RequestRefused("the request must be a JSON object")
        if request.get("op") == "run":
            return _run_request(request, slots)
        if request.get("op") == "status" and set(request) == {"op"}:
            return {"status": bubblewrap.status_here().as_dict()}
        raise RequestRefused('op must be "run" or "status" (a status request has no other field)')
    except RequestRefused as exc:
        return _refusal(exc)


class RequestHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(READ_TIMEOUT_SECONDS)
        try:
            message = _read_until_closed(self.request, MAX_REQUEST_BYTES)
        except RequestRefused as exc:
            reply = _refusal(exc)
        except TimeoutError:
            logger.warning("sandbox service: a client sent no complete request in %d s", READ_TIMEOUT_SECONDS)
            return
        else:
            self.request.settimeout(None)
            with children_scope() as runs, _killing_on_hang_up(self.request, runs):
                reply = answer(message, slots=self.server.slots)
        try:
            self.request.sendall(json.dumps(reply, default=str).encode())
        except OSError as exc:
            logger.warning("sandbox service: the client left before the reply: %s", exc)


@contextmanager
def _killing_on_hang_up(connection: socket.socket, runs: SandboxChildren):
    """While the block runs, a client that hangs up has the block's sandbox runs killed."""
    woken, wake = os.pipe()
    watch = select.poll()
    watch.register(connection, select.POLLHUP | select.POLLERR)
    watch.register(woken, select.POLLIN)

    def watch_the_client():
        events = dict(watch.poll())
        if woken not in events and runs.kill_all():
            logger.warning("sandbox service: the client hung up before its reply: its sandbox was killed")

    watcher = threading.Thread(target=watch_the_client, name="sandbox-hang-up", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        os.write(wake, b"x")
        watcher.join()
        os.close(woken)
        os.close(wake)


class SandboxServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str):
        self.slots = RunSlots(settings.SANDBOX_MAX_CONCURRENT, settings.SANDBOX_MAX_WAITING)
        if os.path.exists(path) and stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)  # left by a previous run of the service
        super().__init__(path, RequestHandler)
        os.chmod(path, SOCKET_MODE)


def serve(path: str) -> None:
    """Answers requests on the Unix socket `path` until the process is stopped."""
    with SandboxServer(path) as server:
        logger.info("sandbox service: listening on %s (%s)", path, bubblewrap.status_here().message)
        server.serve_forever()


def _hang_up(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)  # wakes the thread reading the reply; the service kills the run
    except OSError:
        pass  # already closed


def _ask(path: str, request: dict, timeout: float, runs: SandboxChildren | None = None) -> dict:
    """The service's reply; with `runs`, the request is one of them, stopped by hanging up."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(path)
            if runs is not None:
                runs.add(connection, functools.partial(_hang_up, connection))
            try:
                connection.sendall(json.dumps(request, default=str).encode())
                connection.shutdown(socket.SHUT_WR)
                reply = json.loads(_read_until_closed(connection, MAX_REPLY_BYTES))
            finally:
                if runs is not None:
                    runs.discard(connection)
    except TimeoutError as exc:
        raise SandboxUnavailable(f"sandbox: the sandbox service at {path} did not answer in {timeout:g} s") from exc
    except OSError as exc:
        raise SandboxUnavailable(
            f"sandbox: the sandbox service at {path} is unreachable ({exc.strerror or exc}), "
            f"so untrusted code does not run; {START_HINT}"
        ) from exc
    except (ValueError, RequestRefused) as exc:
        raise SandboxUnavailable(f"sandbox: the sandbox service at {path} sent an unreadable reply ({exc})") from exc
    if not isinstance(reply, dict):
        raise SandboxUnavailable(f"sandbox: the sandbox service at {path} sent an unreadable reply")
    if "busy" in reply:
        raise SandboxBusy(str(reply["busy"]))
    if "unavailable" in reply or "refused" in reply:
        raise SandboxUnavailable(str(reply.get("unavailable") or reply.get("refused")))
    return reply


def _from_reply(kind: type, data) -> object:
    names = {field.name for field in fields(kind)}
    if not isinstance(data, dict) or not {name for name in names if name != "detail"} <= set(data):
        raise SandboxUnavailable(f"sandbox: the sandbox service sent an unreadable {kind.__name__}")
    return kind(**{name: value for name, value in data.items() if name in names})


def run_remotely(
    path: str, code: str, *, inputs: dict | None, timeout: float | None, memory_mb: int | None, default_timeout: float
) -> SandboxResult:
    """Runs `code` in the sandbox service at `path`; SandboxUnavailable when it cannot be reached or cannot isolate.

    SandboxBusy when the service has no sandbox free. Inside a children_scope(), killing the scope
    hangs up, the service kills the run, and the result says it was killed.
    """
    request = {"op": "run", "code": code, "inputs": inputs or {}, "timeout": timeout, "memory_mb": memory_mb}
    run_time = min(float(timeout or default_timeout), bubblewrap.MAX_TIMEOUT_SECONDS)
    runs = current_scope()
    try:
        reply = _ask(path, request, SLOT_WAIT_SECONDS + run_time + REPLY_ALLOWANCE_SECONDS, runs)
    except SandboxUnavailable:
        if runs is not None and runs.killed:
            return SandboxResult(ok=False, error=KILLED_BY_HANG_UP)
        raise
    return _from_reply(SandboxResult, reply.get("result"))


def status_remotely(path: str) -> SandboxStatus:
    """The service's own report (its bubblewrap, or its unisolated mode), or unavailable when it cannot be reached."""
    try:
        status = _from_reply(SandboxStatus, _ask(path, {"op": "status"}, 10 + REPLY_ALLOWANCE_SECONDS).get("status"))
    except SandboxUnavailable as exc:
        return SandboxStatus(ok=False, isolated=False, mode="unavailable", message=str(exc))
    status.message = f"sandbox service at {path}: {status.message}"
    return status
