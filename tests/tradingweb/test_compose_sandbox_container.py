"""In compose, untrusted code runs in a `sandbox` container walled off from the app; the app's containers stay confined.

No Docker engine runs here, so the file is read as compose would read it (the schema test in
test_deployment_files.py validates it), and the container's health check is run against a real
sandbox service.
"""

import subprocess
import sys

import yaml

from tests.tradingweb.test_deployment_files import ROOT, compose_file

RELAXED = {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"}


def _compose_text() -> str:
    return (ROOT / "docker-compose.yml").read_text()


def test_the_sandbox_container_has_no_network_no_app_volume_and_no_secret():
    sandbox = compose_file()["services"]["sandbox"]

    assert sandbox["network_mode"] == "none" and "ports" not in sandbox and "networks" not in sandbox
    assert sandbox["volumes"] == ["sandbox-socket:/run/sandbox"]  # a named volume for the socket, nothing of /app
    assert "env_file" not in sandbox  # .env holds the app's secrets
    assert set(sandbox["environment"]) <= {
        "SANDBOX_SOCKET", "SANDBOX_TIMEOUT_SECONDS", "SANDBOX_MEMORY_MB", "VAR_DIR", "HOME", "MPLCONFIGDIR",
    }  # fmt: skip
    assert sandbox["command"] == ["python", "manage.py", "sandbox_server"]


def test_the_sandbox_container_is_unprivileged_read_only_and_capped():
    sandbox = compose_file()["services"]["sandbox"]

    assert sandbox["user"] not in {"root", "0", "0:0"} and "privileged" not in sandbox and "cap_add" not in sandbox
    assert sandbox["read_only"] is True and any(mount.startswith("/tmp:") for mount in sandbox["tmpfs"])
    assert 0 < sandbox["pids_limit"] <= 1024 and sandbox["mem_limit"]
    assert "USER tradingweb" in (ROOT / "Dockerfile").read_text()


def test_only_the_sandbox_container_relaxes_the_security_profiles():
    services = compose_file()["services"]

    relaxed = {name for name, service in services.items() if RELAXED & set(service.get("security_opt", []))}
    assert relaxed == {"sandbox"}
    assert set(services["sandbox"]["security_opt"]) == RELAXED


def test_web_and_the_io_workers_reach_the_sandbox_only_through_its_socket():
    services = compose_file()["services"]
    socket_path = services["sandbox"]["environment"]["SANDBOX_SOCKET"]

    for name in ("web", "worker-io"):
        assert services[name]["environment"]["SANDBOX_SOCKET"] == socket_path, name
        assert "sandbox-socket:/run/sandbox" in services[name]["volumes"], name
        assert services[name]["depends_on"]["sandbox"]["condition"] == "service_healthy", name
    assert socket_path.startswith("/run/sandbox/")
    assert "sandbox-socket" in yaml.safe_load(_compose_text())["volumes"]


def test_the_sandbox_containers_health_check_asks_the_service_whether_it_isolates(sandbox_service, tmp_path):
    command = compose_file()["services"]["sandbox"]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]

    def check(socket_path: str) -> int:
        code = command[3].replace("/run/sandbox/sandbox.sock", socket_path)
        return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode

    assert check(sandbox_service.socket) == 0
    assert check(str(tmp_path / "nobody-listens.sock")) != 0
