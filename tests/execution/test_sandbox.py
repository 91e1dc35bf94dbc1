"""The custom-code sandbox runs numpy/pandas code and refuses everything that could harm the host."""

import os

from execution.sandbox import run_code


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


def test_it_refuses_sockets_even_when_the_import_guard_is_bypassed():
    outcome = run_code(
        "socket = __import__('socket', {'__name__': 'numpy'})\nsocket.create_connection(('127.0.0.1', 6379))"
    )
    assert not outcome.ok
    assert "socket" in outcome.error and "not allowed" in outcome.error


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


def test_it_reports_the_error_of_failing_code():
    outcome = run_code("raise ValueError('no signal today')", timeout=5)
    assert not outcome.ok
    assert outcome.error == "ValueError: no signal today"
