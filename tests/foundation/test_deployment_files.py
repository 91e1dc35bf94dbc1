"""The files that deploy tradingweb agree with the code: compose, Procfile, documented settings."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SETTING_READ = re.compile(r'(?:env_bool|env_int|env_float|env_list|env_choice|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]*)"')


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


def test_docker_compose_config_validates():
    command = compose_command()
    if command is None:
        pytest.skip("no docker compose plugin or docker-compose on this machine")

    result = subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr


def test_compose_runs_the_whole_stack_with_a_scalable_worker_and_an_optional_gateway():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    expected = {"postgres", "redis", "minio", "createbuckets", "migrate", "web", "worker", "beat", "flower"}
    assert expected <= set(services)
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    assert any(port.endswith(":5555") for port in services["flower"]["ports"])
    assert services["ibgateway"]["profiles"] == ["ibgateway"]
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis:")
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["web"]["environment"]["AWS_S3_ENDPOINT_URL"].endswith("http://minio:9000}")


def test_the_procfile_runs_web_worker_and_beat():
    processes = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )

    assert set(processes) == {"web", "worker", "beat"}
    assert "tradingweb.asgi:application" in processes["web"]
    assert "-Q high,normal,low" in processes["worker"]
    assert "DatabaseScheduler" in processes["beat"]


def test_every_setting_read_from_the_environment_is_documented_in_env_example():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))

    assert settings_read_from_environment() - documented == set()


def test_every_setting_read_from_the_environment_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    in_table = set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`", readme, re.MULTILINE))

    assert settings_read_from_environment() - in_table == set()
