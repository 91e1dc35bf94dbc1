"""The files that deploy tradingweb agree with the code: compose, Procfile, documented settings."""

import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SETTING_READ = re.compile(
    r'(?:env_bool|env_int|env_float|env_list|env_choice|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]*)"'
)


def settings_read_from_environment() -> set[str]:
    return set(SETTING_READ.findall((ROOT / "tradingweb" / "settings.py").read_text()))


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


# Services that run once and exit 0; the others wait for that (service_completed_successfully).
ONE_SHOT_SERVICES = {"createbuckets", "migrate"}


def compose_file() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_docker_compose_config_validates():
    command = compose_command()
    if command is None:
        pytest.skip("no docker compose plugin or docker-compose on this machine (the schema test checks the file)")

    result = subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "FLOWER_BASIC_AUTH": "admin:test-password"},
        timeout=60,
    )

    assert result.returncode == 0, result.stderr


def test_docker_compose_yml_follows_the_compose_specification_schema():
    """The compose-spec JSON schema (vendored by check-jsonschema), where no Docker can run `config`."""
    schema_file = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema = json.loads(schema_file.read_text())

    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose_file()), key=str)

    assert not errors, "\n".join(f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors)


def test_every_service_has_a_health_check_and_waits_for_what_it_needs_to_be_healthy():
    services = compose_file()["services"]

    for name, service in services.items():
        if name in ONE_SHOT_SERVICES:
            assert service.get("restart", "no") == "no", name
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        for needed, condition in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if needed in ONE_SHOT_SERVICES else "service_healthy"
            assert condition["condition"] == expected, f"{name} waits for {needed} with {condition}"
    assert services["createbuckets"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_flower_needs_a_password_and_the_gateways_are_opt_in_profiles():
    services = compose_file()["services"]

    flower = services["flower"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")  # no default password
    assert flower["environment"]["REDIS_URL"] == services["worker-io"]["environment"]["REDIS_URL"]
    assert not any("basic-auth" in part for part in flower["command"])  # not on a command line `ps` shows
    assert flower["environment"]["FLOWER_PERSISTENT"] == "True"  # its task list survives a restart
    assert flower["environment"]["FLOWER_DB"].startswith("/app/var/") and "flower-data:/app/var" in flower["volumes"]
    assert services["ibgateway"]["profiles"] == ["ibgateway"]
    assert services["gateway-sim"]["profiles"] == ["gateway-sim"]
    always_on = {name for name, service in services.items() if "profiles" not in service}
    assert always_on == {
        "postgres", "redis", "minio", "createbuckets", "migrate", "web", "worker-io", "worker-cpu", "beat", "flower",
        "sandbox",
    }  # fmt: skip


def test_compose_runs_the_whole_stack_with_scalable_io_and_cpu_workers_and_an_optional_gateway():
    services = compose_file()["services"]

    expected = {"postgres", "redis", "minio", "createbuckets", "migrate", "web", "worker-io", "worker-cpu", "beat"}
    assert expected <= set(services)
    for name in ("worker-io", "worker-cpu"):
        assert "container_name" not in services[name] and "ports" not in services[name], name  # --scale needs both
    assert services["worker-io"]["command"][:4] == ["python", "-m", "tradingweb.worker", "io"]
    assert services["worker-cpu"]["command"][:4] == ["python", "-m", "tradingweb.worker", "cpu"]
    assert "io@$$HOSTNAME" in services["worker-io"]["healthcheck"]["test"][1]
    assert "cpu@$$HOSTNAME" in services["worker-cpu"]["healthcheck"]["test"][1]
    assert any(port.endswith(":5555") for port in services["flower"]["ports"])
    assert services["ibgateway"]["profiles"] == ["ibgateway"]
    for name in ("web", "worker-io", "worker-cpu", "beat"):
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["web"]["environment"]["AWS_S3_ENDPOINT_URL"].endswith("http://minio:9000}")


def test_postgres_in_compose_has_connections_for_four_io_workers_beside_the_rest():
    command = " ".join(compose_file()["services"]["postgres"]["command"])
    max_connections = int(re.search(r"max_connections=\$\{POSTGRES_MAX_CONNECTIONS:-(\d+)\}", command)[1])
    io_worker = 64 + 1  # its threads (CELERY_IO_WORKER_CONCURRENCY) and its main process
    the_rest = 20  # web, beat, migrate, and a cpu worker of 8 cores

    assert max_connections >= 4 * io_worker + the_rest


def test_the_procfile_runs_web_both_worker_kinds_and_beat():
    processes = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())

    assert set(processes) == {"web", "worker-io", "worker-cpu", "beat"}
    assert "tradingweb.asgi:application" in processes["web"]
    assert "python -m tradingweb.worker io " in processes["worker-io"]
    assert "python -m tradingweb.worker cpu " in processes["worker-cpu"]
    assert "DatabaseScheduler" in processes["beat"]


def test_every_setting_read_from_the_environment_is_documented_in_env_example():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))

    assert settings_read_from_environment() - documented == set()


def test_every_setting_read_from_the_environment_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    in_table = set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`", readme, re.MULTILINE))

    assert settings_read_from_environment() - in_table == set()
