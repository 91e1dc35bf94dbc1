"""The custom-code sandbox runs numpy/pandas code and refuses everything that could harm the host.

The escape attempts a trader would make, through a real worker, are in
tests/tradingweb/security/test_sandbox_escapes.py.
"""

import os
import threading
import time

import pytest

from agents.sandbox import SandboxUnavailable, children_scope, run_code, sandbox_status
from tests.support.sandbox_service import NOBODY, descendants, sandboxed_interpreters


def test_it_runs_numpy_and_pandas_and_returns_result_and_output():
    outcome = run_code(
        "import numpy as np\nimport pandas as pd\n"
        "closes = pd.Series(inputs['closes'])\n"
        "print('mean', closes.mean())\n"
        "result = {'mean': float(closes.mean()), 'std': float(np.std(closes))}",
        inputs={"closes": [1, 2, 3, 4]},
        timeout=10,
    )
    assert outcome.ok, outcome.error
    assert outcome.result == {"mean": 2.5, "std": 1.118033988749895}
    assert "mean 2.5" in outcome.stdout


def test_it_refuses_network_access():
    outcome = run_code("import pandas as pd\npd.read_csv('http://127.0.0.1:6379/data.csv')", timeout=10)
    assert not outcome.ok
    assert "not allowed" in outcome.error


def test_it_refuses_importing_socket_and_os():
    for module in ("socket", "os", "subprocess", "ctypes"):
        outcome = run_code(f"import {module}", timeout=5)
        assert not outcome.ok
        assert f"import of {module!r} is not allowed" in outcome.error


@pytest.mark.parametrize(
    "code",
    [
        "__import__('os', {'__name__': 'x'})",  # globals that claim to be another module
        "__import__('os', {'__name__': 'numpy'})",
        "exec('import os', {})",  # code the user compiles is still the user's
        "import numpy\nexec('import os', numpy.__dict__)",  # even run in a library's own namespace
        "import pandas as pd\npd.io.common.os.sys.modules['importlib'].import_module('socket')",
        "import pandas as pd\npd.io.common.os.sys.modules['importlib._bootstrap']._gcd_import('socket')",
    ],
)
def test_the_import_guard_reads_who_really_imports(code):
    outcome = run_code(code, timeout=10)
    assert not outcome.ok
    assert "is not allowed" in outcome.error, outcome.error


def test_code_cannot_pass_itself_off_as_a_library_file():
    outcome = run_code("import numpy\nexec(compile('import os', numpy.__file__, 'exec'))", timeout=10)
    assert not outcome.ok
    assert "compiling code as" in outcome.error and "is not allowed" in outcome.error


def test_libraries_still_import_what_they_need():
    outcome = run_code(
        "import scipy.stats\nimport pandas as pd\n"
        "result = [round(float(scipy.stats.norm.cdf(0)), 2), str(pd.Timestamp('2024-01-02', tz='UTC').tz)]",
        timeout=20,
    )
    assert outcome.ok, (outcome.error, outcome.stderr)
    assert outcome.result == [0.5, "UTC"]


def test_it_refuses_writes_outside_its_scratch_dir(tmp_path):
    target = tmp_path / "escaped.txt"
    outcome = run_code(f"open({str(target)!r}, 'w').write('x')", timeout=5)
    assert not outcome.ok
    assert "outside the scratch directory" in outcome.error
    assert not target.exists()


def test_it_allows_writes_inside_its_scratch_dir():
    outcome = run_code("open('notes.txt', 'w').write('kept')\nresult = open('notes.txt').read()", timeout=5)
    assert outcome.ok, outcome.error
    assert outcome.result == "kept"


def test_it_stops_a_fork_bomb():
    outcome = run_code("import pandas as pd\nos = pd.io.common.os\nwhile True:\n    os.fork()", timeout=5)
    assert not outcome.ok
    assert "os.fork is not allowed" in outcome.error


def test_it_refuses_running_commands():
    marker = f"/tmp/tw-sandbox-escape-{os.getpid()}"
    outcome = run_code(f"import pandas as pd\npd.io.common.os.system('touch {marker}')", timeout=5)
    assert not outcome.ok
    assert not os.path.exists(marker)


def test_it_stops_a_memory_bomb():
    outcome = run_code("hoard = bytearray(4 * 1024 * 1024 * 1024)", timeout=5)
    assert not outcome.ok
    assert "MemoryError" in outcome.error


def test_it_stops_a_long_loop():
    outcome = run_code("while True:\n    pass", timeout=1)
    assert not outcome.ok
    assert outcome.timed_out or "CPU time" in outcome.error


def test_it_reports_the_error_of_failing_code_with_the_lines_of_the_users_code_only():
    outcome = run_code("def signal():\n    raise ValueError('no signal today')\n\nsignal()", timeout=5)
    assert not outcome.ok
    assert outcome.error == "ValueError: no signal today"
    assert 'File "<custom_code>", line 4' in outcome.traceback and "line 2, in signal" in outcome.traceback
    assert "runner.py" not in outcome.traceback and "runner.py" in outcome.detail  # the whole story is staff's
    assert "detail" not in outcome.as_dict()


def test_the_code_runs_as_nobody_in_its_own_pid_namespace_without_the_workers_environment(monkeypatch):
    monkeypatch.setenv("TW_SANDBOX_TEST_SECRET", "env-marker-5f1c")
    outcome = run_code(
        "import pandas as pd\nos = pd.io.common.os\n"
        "result = {'ids': [os.getuid(), os.getgid()], 'environ': dict(os.environ), "
        "'pids': sorted(os.listdir('/proc'))}",
        timeout=10,
    )
    assert outcome.ok, outcome.error
    assert outcome.result["ids"] == [65534, 65534]
    assert "TW_SANDBOX_TEST_SECRET" not in outcome.result["environ"] and "DATABASE_URL" not in outcome.result["environ"]
    assert [entry for entry in outcome.result["pids"] if entry.isdigit()] == ["1", "2"]  # bubblewrap's init and itself


def test_every_process_of_the_sandbox_is_nobody_on_the_host_too():
    """Seen from outside, through /proc: not root, even when the worker is (CI runs it as root)."""
    outcome, scopes = {}, []

    def run():
        with children_scope() as scope:
            scopes.append(scope)
            outcome["result"] = run_code("while True:\n    pass", timeout=60)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    sandbox = {}
    while time.monotonic() < deadline and not sandboxed_interpreters(sandbox):
        time.sleep(0.05)
        sandbox = descendants(os.getpid())
    scopes[0].kill_all()
    thread.join()

    [runner] = sandboxed_interpreters(sandbox)
    assert runner["Uid"] == [str(NOBODY)] * 4 and runner["Gid"] == [str(NOBODY)] * 4, runner
    assert all(process["Uid"] == [str(NOBODY)] * 4 for process in sandbox.values()), sandbox  # bubblewrap's too
    assert not outcome["result"].ok and "killed" in outcome["result"].error


def test_it_fails_closed_naming_what_to_install_when_bubblewrap_is_missing(settings, tmp_path):
    settings.SANDBOX_BWRAP_PATH = str(tmp_path / "bwrap")
    with pytest.raises(SandboxUnavailable, match=r"\(.*/bwrap\) is not installed.*apt-get install bubblewrap"):
        run_code("result = 1")
    status = sandbox_status()
    assert (status.ok, status.isolated, status.mode) == (False, False, "unavailable")


def test_it_fails_closed_when_bubblewrap_cannot_create_its_namespaces(settings, tmp_path):
    # A bwrap that answers the way the real one does when user namespaces are not allowed.
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    settings.SANDBOX_BWRAP_PATH = str(fake)
    with pytest.raises(SandboxUnavailable, match="could not set up its namespaces.*No permissions"):
        run_code("result = 1")


def test_staff_may_run_it_unisolated_and_the_inner_layers_still_refuse(settings, tmp_path):
    settings.SANDBOX_UNISOLATED = True
    settings.SANDBOX_BWRAP_PATH = str(tmp_path / "bwrap")  # not needed in this mode
    assert run_code("result = 1 + 1", timeout=10).result == 2
    refused = run_code("import pandas as pd\npd.io.common.os.system('true')", timeout=10)
    assert not refused.ok and "os.system is not allowed" in refused.error
    status = sandbox_status()
    assert (status.ok, status.isolated, status.mode) == (False, False, "unisolated")
    assert status.message.startswith("UNISOLATED")


def test_the_sandbox_holds_the_allowed_libraries_and_not_the_apps_dependencies():
    outcome = run_code(
        "import pandas as pd\nos = pd.io.common.os\n"
        "result = sorted({entry for place in os.sys.path if os.path.isdir(place) for entry in os.listdir(place)})",
        timeout=10,
    )
    assert outcome.ok, outcome.error
    assert {"numpy", "pandas", "scipy", "dateutil", "pytz"} <= set(outcome.result)
    assert not {"django", "celery", "rest_framework", "redis", "autogen_agentchat", "tradingweb", "execution"} & set(
        outcome.result
    )


def test_its_scratch_directory_is_small_and_fills_up():
    outcome = run_code(
        "chunk = b'x' * (1024 * 1024)\n"
        "for number in range(8):\n"
        "    with open(f'fill-{number}.bin', 'wb') as file:\n"
        "        for _ in range(15):\n"
        "            file.write(chunk)\n",
        timeout=20,
    )
    assert not outcome.ok
    assert "No space left on device" in outcome.error
