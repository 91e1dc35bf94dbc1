"""The sandbox service as its own OS process, started the way compose runs it: unprivileged, without network.

Also a loopback listener that counts connections, which a sandbox (or the service) with network would reach.

`manage.py sandbox_server` runs as nobody in network and mount namespaces of its own (`unshare`),
so it has no network at all, like a container with `network_mode: none`, and reaches the workers
only through its Unix socket. Starting a process as another user takes root (CI runs the suite
as root); elsewhere the fixture skips, saying so.

nobody must be able to read the interpreter. Here pyenv's Python lives under /root (mode 0700):
inside the service's private mount namespace, /root is opened the way a root worker opens it for
its sandboxes (agents/sandbox/unprivileged.py).
"""

import os
import shlex
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from agents.sandbox.bubblewrap import RUNNER_INSIDE
from agents.sandbox.unprivileged import NOBODY, opening_script

ROOT = Path(__file__).resolve().parents[2]
USER, GROUP = "nobody", "nogroup"
READY_TIMEOUT_SECONDS = 60


def _runtime_paths() -> list[Path]:
    """What the service's Python needs to read: the interpreter's prefix, the venv and the project."""
    return [Path(os.path.realpath(sys.base_prefix)), Path(sys.prefix), Path(os.path.realpath(sys.executable)), ROOT]


def descendants(ancestor: int) -> dict[int, dict]:
    """{pid: {"parent", "cmdline", "Uid", "Gid"}} of every live process below `ancestor`."""
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = dict(line.split(":\t", 1) for line in (entry / "status").read_text().splitlines() if ":\t" in line)
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace").rstrip("\0").split("\0")
        except (OSError, ValueError):
            continue  # not a process, or one that just ended
        processes[int(entry.name)] = {"parent": int(status["PPid"]), "cmdline": cmdline,
                                      "Uid": status["Uid"].split(), "Gid": status["Gid"].split()}  # fmt: skip
    below, frontier = {}, {ancestor}
    while frontier:
        frontier = {pid for pid, process in processes.items() if process["parent"] in frontier} - set(below)
        below.update({pid: processes[pid] for pid in frontier})
    return below


def sandboxed_interpreters(processes: dict[int, dict]) -> list[dict]:
    """The sandboxed interpreters among `processes` (bubblewrap's own command line names the runner too)."""
    interpreters = [process for process in processes.values() if Path(process["cmdline"][0]).name != "bwrap"]
    return [process for process in interpreters if process["cmdline"][-2:] == ["-I", RUNNER_INSIDE]]


class SandboxService:
    """`manage.py sandbox_server` as nobody, without network; `socket` is its Unix socket."""

    def __init__(self, **settings_environment: str):
        self.settings_environment = settings_environment  # e.g. SANDBOX_MAX_CONCURRENT="1"
        self.directory = Path(tempfile.mkdtemp(prefix="tw-sandbox-service-"))  # /tmp: nobody may enter it
        os.chown(self.directory, NOBODY, NOBODY)
        self.socket = str(self.directory / "sandbox.sock")
        self.log_path = self.directory / "service.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "SandboxService":
        stage = Path(tempfile.mkdtemp(prefix="tw-sandbox-stage-"))
        server = ["setpriv", f"--reuid={USER}", f"--regid={GROUP}", "--clear-groups", "--",
                  sys.executable, "manage.py", "sandbox_server"]  # fmt: skip
        script = "\n".join(["set -e", *opening_script(_runtime_paths(), stage), "exec " + shlex.join(server)])
        environment = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.directory),
            "DJANGO_SETTINGS_MODULE": "tradingweb.settings",
            "VAR_DIR": str(self.directory),
            "SANDBOX_SOCKET": self.socket,
            "PYTHONDONTWRITEBYTECODE": "1",
            "LOG_LEVEL": "INFO",
            **self.settings_environment,
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", script],
                cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self._wait_ready()
        shutil.rmtree(stage, ignore_errors=True)
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the sandbox service exited ({self.process.returncode}): {self.log_text()}")
            if "listening on" in self.log_text():
                return
            time.sleep(0.1)
        raise RuntimeError(f"the sandbox service did not listen in {READY_TIMEOUT_SECONDS} s: {self.log_text()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        shutil.rmtree(self.directory, ignore_errors=True)


class ConnectionCounter(socketserver.ThreadingTCPServer):
    """A listener on loopback that counts who connected: a sandbox with network would reach it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.connections = 0
        counter = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                counter.connections += 1
                self.request.sendall(b"HTTP/1.0 200 OK\r\n\r\na,b\n1,2\n")

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def listener():
    server = ConnectionCounter()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def sandbox_service():
    """One sandbox service for the test run (started as nobody, so it needs root)."""
    if os.geteuid() != 0:
        pytest.skip("starting the sandbox service as nobody in namespaces of its own needs root (CI runs as root)")
    service = SandboxService().start()
    yield service
    service.stop()


@pytest.fixture(params=["here", "service"])
def sandbox_transport(request, settings):
    """Each way untrusted code reaches the sandbox: bubblewrap started here, or the sandbox service's socket."""
    if request.param == "service":
        settings.SANDBOX_SOCKET = request.getfixturevalue("sandbox_service").socket
    else:
        settings.SANDBOX_SOCKET = ""
    return request.param
