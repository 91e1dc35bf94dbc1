"""With SANDBOX_SOCKET set, untrusted code runs in the sandbox service: unprivileged, without network, failing closed.

The service is a real `manage.py sandbox_server` process, started as nobody in network and mount
namespaces of its own (tests/support/sandbox_service.py); the escape attempts run through it too
(tests/tradingweb/security/test_sandbox_escapes.py, both transports).
"""

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from agents.sandbox import SandboxBusy, SandboxUnavailable, children_scope, run_code, sandbox_status, service
from execution.models import StepRun
from tests.execution.conftest import run_custom_code
from tests.support.sandbox_service import SandboxService, descendants, sandboxed_interpreters

SPIN = "while True:\n    pass"


@pytest.fixture
def through_the_service(settings, sandbox_service):
    settings.SANDBOX_SOCKET = sandbox_service.socket
    return sandbox_service


def _ask_raw(path: str, message: bytes) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(path)
        connection.sendall(message)
        connection.shutdown(socket.SHUT_WR)
        return json.loads(b"".join(iter(lambda: connection.recv(65536), b"")))


def test_code_sent_to_the_socket_runs_in_the_service(through_the_service):
    code = "import numpy as np\nresult = float(np.mean(inputs['closes']))\n# marker-3b1e"
    runs_before = through_the_service.log_text().count(f"ran {len(code)} characters")

    outcome = run_code(code, inputs={"closes": [1, 2, 3]}, timeout=10)

    assert outcome.ok, (outcome.error, outcome.stderr)
    assert outcome.result == 2.0
    assert through_the_service.log_text().count(f"ran {len(code)} characters") == runs_before + 1


def test_the_service_and_its_sandboxes_are_unprivileged_and_have_no_network(through_the_service, listener, settings):
    pid = through_the_service.process.pid
    status = dict(line.split(":\t", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":\t" in line)
    assert status["Uid"].split()[:2] == ["65534", "65534"] and status["CapEff"] == "0000000000000000"
    # bubblewrap is no setuid program here, so nothing the service starts is more than nobody.
    assert not os.stat(settings.SANDBOX_BWRAP_PATH).st_mode & stat.S_ISUID
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")

    port = listener.server_address[1]
    connect_out = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)"
    attempt = subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", connect_out], capture_output=True, text=True
    )
    assert attempt.returncode != 0 and "Network is unreachable" in attempt.stderr, attempt.stderr
    assert listener.connections == 0


def test_the_health_check_reports_the_services_isolation(api_client, through_the_service, settings):
    bwrap = settings.SANDBOX_BWRAP_PATH
    sandbox = api_client.get("/api/health/").json()["components"]["sandbox"]

    assert sandbox["ok"] is True and sandbox["details"] == {"mode": "bubblewrap", "isolated": True}, sandbox
    assert sandbox["message"] == f"sandbox service at {through_the_service.socket}: isolated by bubblewrap ({bwrap})"


def test_an_unreachable_service_fails_closed_naming_it(settings, tmp_path, api_client):
    settings.SANDBOX_SOCKET = str(tmp_path / "nobody-listens.sock")

    with pytest.raises(SandboxUnavailable, match=r"sandbox service at .*nobody-listens.sock is unreachable") as refused:
        run_code("result = 1")
    assert "manage.py sandbox_server" in str(refused.value)
    status = sandbox_status()
    assert (status.ok, status.isolated, status.mode) == (False, False, "unavailable")
    sandbox = api_client.get("/api/health/").json()["components"]["sandbox"]
    assert sandbox["ok"] is False and "nobody-listens.sock is unreachable" in sandbox["message"]


@pytest.mark.django_db(transaction=True)
def test_a_custom_code_step_fails_at_once_when_the_service_is_unreachable(alice, settings, tmp_path):
    settings.SANDBOX_SOCKET = str(tmp_path / "nobody-listens.sock")
    execution = run_custom_code(alice, "result = 1")

    [run] = StepRun.objects.filter(execution=execution, step_id="mine")  # one attempt: retrying cannot help
    assert run.status == "failed" and run.output == {}
    assert run.error.startswith("custom_code did not run: sandbox: the sandbox service at ")
    assert "is unreachable" in run.error


@pytest.mark.parametrize(
    ("message", "refusal"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "a JSON object"),
        (b'{"op": "shell", "code": "x"}', 'op must be "run" or "status"'),
        (b'{"op": "status", "code": "x"}', 'op must be "run" or "status"'),
        (b'{"op": "run", "code": "result = 1", "env": {"A": "1"}}', "unknown fields: env"),
        (b'{"op": "run", "code": 42}', "code must be a string"),
        (b'{"op": "run", "code": "result = 1", "inputs": [1]}', "inputs must be an object"),
        (b'{"op": "run", "code": "result = 1", "timeout": -1}', "timeout must be a positive number"),
        (b'{"op": "run", "code": "result = 1", "timeout": true}', "timeout must be a positive number"),
        (b'{"op": "run", "code": "result = 1", "memory_mb": 1.5}', "memory_mb must be a positive integer"),
    ],
)
def test_the_service_refuses_malformed_requests_and_runs_nothing(message, refusal):
    reply = service.answer(message, slots=service.RunSlots(1, 0))

    assert set(reply) == {"refused"} and reply["refused"].startswith("sandbox service: refused the request: ")
    assert refusal in reply["refused"]


def test_the_service_refuses_an_oversized_request_and_keeps_serving(sandbox_service):
    code = "result = 1\n" + "#" * service.MAX_REQUEST_BYTES
    reply = _ask_raw(sandbox_service.socket, json.dumps({"op": "run", "code": code}).encode())
    assert f"larger than {service.MAX_REQUEST_BYTES} bytes" in reply["refused"]

    reply = _ask_raw(sandbox_service.socket, b"{broken")
    assert "not JSON" in reply["refused"]

    reply = _ask_raw(sandbox_service.socket, json.dumps({"op": "run", "code": "result = 6 * 7"}).encode())
    assert reply["result"]["ok"] is True and reply["result"]["result"] == 42


def test_the_services_own_limits_cap_what_a_request_asks_for(through_the_service):
    outcome = run_code("hoard = bytearray(2 * 1024 * 1024 * 1024)", timeout=5, memory_mb=100_000)

    assert not outcome.ok and "MemoryError" in outcome.error


class RunInTheBackground:
    """run_code in a thread of its own, inside a children_scope() that the test may kill."""

    def __init__(self, code: str):
        self.outcome, self.scope, self.raised = None, None, None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(code,), daemon=True)
        self.thread.start()
        self.started.wait()

    def _run(self, code: str):
        with children_scope() as scope:
            self.scope = scope
            self.started.set()
            try:
                self.outcome = run_code(code, timeout=120)  # longer than any wait below: only a kill ends it
            except SandboxUnavailable as exc:
                self.raised = exc

    def kill(self):
        self.scope.kill_all()
        self.thread.join(timeout=60)


def _wait_until(condition, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)


def _interpreters_of(service_process) -> list[dict]:
    return sandboxed_interpreters(descendants(service_process.pid))


def test_a_step_abandoned_at_its_hard_limit_has_its_sandbox_killed_in_the_service(through_the_service):
    spinning = RunInTheBackground(SPIN)
    _wait_until(lambda: _interpreters_of(through_the_service.process), "the sandbox to start in the service")

    spinning.kill()  # what the engine does to a step it abandons

    assert not spinning.thread.is_alive() and spinning.raised is None
    assert not spinning.outcome.ok and "killed" in spinning.outcome.error
    _wait_until(lambda: not _interpreters_of(through_the_service.process), "the service to kill the sandbox")
    assert "hung up before its reply: its sandbox was killed" in through_the_service.log_text()


@pytest.fixture
def one_sandbox_service(settings):
    """A service that runs one sandbox at a time and lets one more request wait."""
    if os.geteuid() != 0:
        pytest.skip("starting the sandbox service as nobody in namespaces of its own needs root (CI runs as root)")
    started = SandboxService(SANDBOX_MAX_CONCURRENT="1", SANDBOX_MAX_WAITING="1").start()
    settings.SANDBOX_SOCKET = started.socket
    yield started
    started.stop()


def test_the_service_runs_at_most_its_limit_at_once_lets_some_wait_and_refuses_the_rest(one_sandbox_service):
    spinning = RunInTheBackground(SPIN)
    _wait_until(lambda: _interpreters_of(one_sandbox_service.process), "the first sandbox to start")
    waiting = RunInTheBackground("result = 'my turn'")
    _wait_until(lambda: "waits for a free sandbox" in one_sandbox_service.log_text(), "the second request to wait")

    with pytest.raises(SandboxBusy, match=r"sandbox service is busy: it runs 1 sandbox\(es\) at once") as busy:
        run_code("result = 'too many'", timeout=10)
    assert "the code did not run, try again later" in str(busy.value)
    assert len(_interpreters_of(one_sandbox_service.process)) == 1 and waiting.thread.is_alive()

    spinning.kill()
    waiting.thread.join(timeout=60)
    assert waiting.outcome.ok and waiting.outcome.result == "my turn"
