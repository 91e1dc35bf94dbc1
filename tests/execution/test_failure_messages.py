"""A failed step tells its owner what went wrong in a line; the traceback, with the server's paths, is staff's."""

import errno

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from execution.models import StepRun, WorkflowExecution
from execution.retries import short_error
from tests.execution.conftest import run_custom_code

FAILING_CODE = "def signal(closes):\n    return closes['missing']\n\nresult = signal({})"


@pytest.fixture
def failed_execution(alice):
    return run_custom_code(alice, FAILING_CODE)


def _server_paths() -> list[str]:
    return [str(settings.BASE_DIR), "site-packages", "/sandbox/runner.py", "engine.py"]


@pytest.mark.django_db(transaction=True)
def test_the_owner_reads_a_short_error_and_the_lines_of_their_own_code_only(failed_execution, alice_api):
    steps = alice_api.get(f"/api/workflow-executions/{failed_execution.pk}/steps/").json()
    [run] = [step for step in steps if step["step_id"] == "mine"]

    assert run["status"] == "failed"
    assert run["error"] == "custom_code failed: KeyError: 'missing'"
    assert 'File "<custom_code>", line 4' in run["output"]["traceback"]
    assert run["detail"] == ""  # staff's
    seen = str(steps) + str(alice_api.get(f"/api/workflow-executions/{failed_execution.pk}/").json())
    for path in _server_paths():
        assert path not in seen


@pytest.mark.django_db(transaction=True)
def test_staff_read_the_whole_traceback_in_the_api(failed_execution, staff_api):
    steps = staff_api.get(f"/api/workflow-executions/{failed_execution.pk}/steps/").json()
    [run] = [step for step in steps if step["step_id"] == "mine"]

    assert "Traceback (most recent call last)" in run["detail"]
    assert "engine.py" in run["detail"] and "runner.py" in run["detail"]  # the worker's and the sandbox's frames
    assert "detail" in staff_api.get(f"/api/workflow-executions/{failed_execution.pk}/").json()


@pytest.mark.django_db(transaction=True)
def test_the_execution_page_shows_the_traceback_to_staff_only(failed_execution, client, alice, staff):
    run = StepRun.objects.get(execution=failed_execution, step_id="mine")
    assert run.detail

    client.force_login(alice)
    page = client.get(f"/executions/{failed_execution.pk}/").content.decode()
    assert "custom_code failed: KeyError: &#x27;missing&#x27;" in page
    assert "data-staff-detail" not in page and "engine.py" not in page

    client.force_login(staff)
    page = client.get(f"/executions/{failed_execution.pk}/").content.decode()
    assert "data-staff-detail" in page and "engine.py" in page


def test_an_unexpected_errors_message_leaves_the_servers_directories_out():
    missing = settings.VAR_DIR / "media" / "charts" / "aapl.png"
    error = FileNotFoundError(errno.ENOENT, "No such file or directory", str(missing))

    message = short_error(error)
    assert message.startswith("FileNotFoundError: [Errno 2] No such file or directory: '…/")
    assert message.endswith("/charts/aapl.png'") and str(settings.VAR_DIR) not in message


@pytest.mark.django_db(transaction=True)
def test_tracebacks_kept_before_the_upgrade_move_to_the_staff_only_detail_and_back(alice):
    before, after = [("execution", "0006_failure_detail_for_staff")], [("execution", "0007_tracebacks_move_to_detail")]
    MigrationExecutor(connection).migrate(before)
    execution = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"], results={"traceback": "Execution TB"})
    run = StepRun.objects.create(
        execution=execution, symbol="AAPL", index=0, step_id="mine", step_type="custom_code", status="failed",
        output={"stdout": "hi", "traceback": "Step TB"},
    )  # fmt: skip

    MigrationExecutor(connection).migrate(after)
    run.refresh_from_db()
    execution.refresh_from_db()
    assert (run.output, run.detail) == ({"stdout": "hi"}, "Step TB")
    assert (execution.results, execution.detail) == ({}, "Execution TB")

    MigrationExecutor(connection).migrate(before)
    run.refresh_from_db()
    assert (run.output, run.detail) == ({"stdout": "hi", "traceback": "Step TB"}, "")
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
