"""A trader's custom_code step cannot reach a secret, the network, another process or the host's files.

Each attempt is what a trader would write into a custom_code step: it runs through the API, on the
real Celery worker, in the real sandbox (bubblewrap), both ways code reaches it: bubblewrap started
by the worker, and the sandbox service (SANDBOX_SOCKET; a process of its own, as nobody, without
network). Secrets are planted where the issue found them: the worker's environment, `var/` (the
demo credentials), the database file and `.env`.
Each attempt must be refused, and no secret may appear anywhere the trader can read: the step's
output and error, the execution, or the error's traceback.
"""

import json
import os
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.execution.conftest import make_workflow, wait_for_execution

ENV_MARKER = "tw-escape-env-7c1f3a"
CREDENTIALS_MARKER = "tw-escape-admin-password-94be"
DATABASE_MARKER = "tw-escape-user-token-d20e"
DOTENV_MARKER = "tw-escape-dotenv-key-5a77"
PROJECT_MARKER = "Settings for every run mode"  # the first line of the project's settings module
# System libraries, the interpreter's prefix (here /root/.pyenv/…, outside /usr), /proc, /dev, runner, scratch.
SANDBOX_ROOT_ENTRIES = {"bin", "dev", "lib", "lib32", "lib64", "proc", "sandbox", "sbin", "scratch", "usr"} | {
    Path(os.path.realpath(sys.base_prefix)).parts[1]
}
OS = "import pandas as pd\nos = pd.io.common.os\n"  # `os` as a library holds it; the import guard is no wall

pytestmark = pytest.mark.usefixtures("sandbox_transport")


def _worker_environment_secrets() -> list[str]:
    """Values of this process's (the worker's) start-up environment, paths aside: what /proc/<pid>/environ holds."""
    values = Path("/proc/self/environ").read_bytes().decode(errors="replace").split("\0")
    return [value.partition("=")[2] for value in values if len(value.partition("=")[2]) >= 12 and "/" not in value]


@pytest.fixture
def secrets(monkeypatch):
    """Plants marker secrets where a trader's code went looking for them; returns every secret to look for."""
    var_dir = Path(settings.VAR_DIR)
    var_dir.mkdir(parents=True, exist_ok=True)
    (var_dir / "demo-credentials.json").write_text(json.dumps({"username": "admin", "password": CREDENTIALS_MARKER}))
    (var_dir / "tradingweb.sqlite3").write_bytes(b"SQLite format 3\0" + DATABASE_MARKER.encode())
    dotenv = Path(settings.BASE_DIR) / ".env"
    planted_dotenv = not dotenv.exists()
    if planted_dotenv:
        dotenv.write_text(f"TW_ESCAPE_TEST_SECRET={DOTENV_MARKER}\n")  # a name no setting reads, should it stay
    monkeypatch.setenv("LLM_API_KEY", ENV_MARKER)
    found = [ENV_MARKER, CREDENTIALS_MARKER, DATABASE_MARKER, DOTENV_MARKER, PROJECT_MARKER, settings.SECRET_KEY]
    yield found + _worker_environment_secrets()
    if planted_dotenv:
        dotenv.unlink()


def _run_as_trader(api, owner, code: str, timeout: int = 10) -> tuple[dict, dict, str]:
    """Runs `code` as the owner's custom_code step on the worker: (its step run, the execution, all the trader sees)."""
    workflow = make_workflow(
        owner,
        [
            {"id": "trader_code", "type": "custom_code", "name": "Mine", "config": {"code": code, "timeout": timeout}},
            {"id": "fetch_daily", "type": "fetch_data", "name": "Daily", "config": {"label": "daily", "period": "1y",
                                                                                      "bar": "1d", "indicators": []}},
            {"id": "chart_daily", "type": "generate_chart", "name": "Chart", "config": {"label": "daily",
                                                                                         "source": "daily"}},
            {"id": "analyze", "type": "ai_analyze", "name": "Analyze", "config": {"label": "daily", "input": "daily"}},
        ],
    )  # fmt: skip
    strategy = api.post("/api/strategies/", {"name": "Escape", "workflow": workflow.pk, "symbols": ["AAPL"]},
                        format="json")  # fmt: skip
    assert strategy.status_code == 201, strategy.json()
    started = api.post(f"/api/workflows/{workflow.pk}/execute/", {"strategy_id": strategy.json()["id"]}, format="json")
    assert started.status_code == 202, started.json()
    execution_id = started.json()["workflow_execution_id"]
    wait_for_execution(execution_id)
    steps = api.get(f"/api/workflow-executions/{execution_id}/steps/").json()
    execution = api.get(f"/api/workflow-executions/{execution_id}/").json()
    [run] = [step for step in steps if step["step_id"] == "trader_code"]
    assert execution["detail"] == "" and all(step["detail"] == "" for step in steps)  # tracebacks are staff's
    return run, execution, json.dumps([steps, execution])


def _assert_nothing_leaks(seen: str, secrets: list[str]):
    for secret in secrets:
        assert secret not in seen, f"a secret reached the trader: {secret[:12]}…"
    # No platform traceback either: the worker's files and the sandbox's own machinery stay out of sight.
    for server_path in ("engine.py", "/sandbox/runner.py", "site-packages"):
        assert server_path not in seen


def _assert_refused(run: dict, *fragments: str):
    assert run["status"] == "failed", run
    assert run["error"].startswith("custom_code failed: ")
    for fragment in fragments:
        assert fragment in run["error"], run["error"]


WORKER_PID = os.getpid()
READS = {
    "proc_1_environ": ("result = open('/proc/1/environ').read()", "reading another process's files is not allowed"),
    "parent_environ": (OS + "result = open(f'/proc/{os.getppid()}/environ').read()", "another process"),
    "worker_environ": (f"result = open('/proc/{WORKER_PID}/environ').read()", "another process"),
    "project_file": (f"result = open({str(settings.BASE_DIR / 'tradingweb' / 'settings.py')!r}).read()",
                     "No such file or directory"),
    "var_credentials": (f"result = open({str(Path(settings.VAR_DIR) / 'demo-credentials.json')!r}).read()",
                        "No such file or directory"),
    "database_file": (f"result = open({str(Path(settings.VAR_DIR) / 'tradingweb.sqlite3')!r}, 'rb').read().hex()",
                      "No such file or directory"),
    "dotenv": (f"result = open({str(settings.BASE_DIR / '.env')!r}).read()", "No such file or directory"),
}  # fmt: skip


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", list(READS))
def test_reading_secrets_is_refused(attempt, alice, alice_api, secrets, celery_worker):
    code, refusal = READS[attempt]
    run, _, seen = _run_as_trader(alice_api, alice, code)
    _assert_refused(run, refusal)
    _assert_nothing_leaks(seen, secrets)


@pytest.mark.django_db(transaction=True)
def test_listing_directories_shows_only_the_sandbox(alice, alice_api, secrets, celery_worker):
    places = [str(settings.BASE_DIR), str(settings.VAR_DIR), "/", "/proc", "/scratch"]
    code = OS + (
        "result = {}\n"
        f"for place in {places!r}:\n"
        "    try:\n"
        "        result[place] = sorted(os.listdir(place))\n"
        "    except OSError as error:\n"
        "        result[place] = type(error).__name__\n"
    )
    run, _, seen = _run_as_trader(alice_api, alice, code)

    assert run["status"] == "completed", run
    listing = run["output"]["result"]
    assert listing[str(settings.BASE_DIR)] == listing[str(settings.VAR_DIR)] == "FileNotFoundError"
    assert set(listing["/"]) <= SANDBOX_ROOT_ENTRIES
    assert [entry for entry in listing["/proc"] if entry.isdigit()] == ["1", "2"]  # no worker, no other run
    assert listing["/scratch"] == []
    _assert_nothing_leaks(seen, secrets)


NETWORK = {
    "socket_import": "import socket\nsocket.create_connection(('127.0.0.1', {port}))",
    "socket_via_importlib": OS + "socket = os.sys.modules['importlib'].import_module('socket')\n"
    "socket.create_connection(('127.0.0.1', {port}))",
    "urllib": OS + "os.sys.modules['pandas'].io.common.urlopen('http://127.0.0.1:{port}/').read()",
    "pandas_read_csv": "import pandas as pd\nresult = pd.read_csv('http://127.0.0.1:{port}/data.csv').to_dict()",
    "pandas_read_json": "import pandas as pd\nresult = pd.read_json('http://127.0.0.1:{port}/data.json').to_dict()",
    "ctypes": OS + "libc = os.sys.modules['ctypes'].CDLL(None)\nresult = libc.socket(2, 1, 0)",
    "ctypes_loaded_library": OS + "result = os.sys.modules['ctypes'].pythonapi.Py_GetVersion()",
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", list(NETWORK))
def test_network_access_is_refused_by_every_route(attempt, alice, alice_api, secrets, listener, celery_worker):
    run, _, seen = _run_as_trader(alice_api, alice, NETWORK[attempt].format(port=listener.server_address[1]))

    _assert_refused(run, "not allowed")
    assert listener.connections == 0
    _assert_nothing_leaks(seen, secrets)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "attempt",
    [
        "import subprocess\nsubprocess.run(['touch', '{marker}'])",
        OS + "os.system('touch {marker}')",
        OS + "os.popen('touch {marker}').read()",
        OS + "os.posix_spawn('/usr/bin/touch', ['touch', '{marker}'], {{}})",
        OS + "os.execv('/usr/bin/touch', ['touch', '{marker}'])",
    ],
    ids=["subprocess", "os_system", "os_popen", "posix_spawn", "execv"],
)
def test_starting_programs_is_refused(attempt, alice, alice_api, secrets, tmp_path, celery_worker):
    marker = tmp_path / "ran"
    run, _, seen = _run_as_trader(alice_api, alice, attempt.format(marker=marker))

    _assert_refused(run, "not allowed")
    assert not marker.exists()
    _assert_nothing_leaks(seen, secrets)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "attempt",
    [
        "open('{target}', 'w').write('escaped')",
        OS + "os.symlink('{target}', 'innocent.txt')\nopen('innocent.txt', 'w').write('escaped')",
        OS + "os.symlink('{parent}', 'up')\nopen('up/{name}', 'w').write('escaped')",
        "open('/usr/escaped', 'w').write('escaped')",
        OS + "fd = os.open('/escaped', os.O_WRONLY | os.O_CREAT)\nos.write(fd, b'escaped')",
    ],
    ids=["host_path", "symlink_to_file", "symlink_to_directory", "read_only_runtime", "sandbox_root"],
)
def test_writing_outside_the_scratch_directory_is_refused(attempt, alice, alice_api, secrets, tmp_path, celery_worker):
    target = tmp_path / "escaped.txt"
    code = attempt.format(target=target, parent=tmp_path, name=target.name)
    run, _, seen = _run_as_trader(alice_api, alice, code)

    _assert_refused(run, "not allowed")
    assert not target.exists()
    _assert_nothing_leaks(seen, secrets)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("attempt", "limit"),
    [
        (OS + "while True:\n    os.fork()", "os.fork is not allowed"),
        ("hoard = []\nwhile True:\n    hoard.append(bytearray(50 * 1024 * 1024))", "MemoryError"),
        ("while True:\n    pass", "was stopped"),
    ],
    ids=["fork_bomb", "memory_bomb", "cpu_spin"],
)
def test_bombs_end_at_their_limit(attempt, limit, alice, alice_api, secrets, celery_worker):
    run, _, seen = _run_as_trader(alice_api, alice, attempt, timeout=2)

    _assert_refused(run, limit)
    _assert_nothing_leaks(seen, secrets)
