"""Staff inspect executions, step runs and decisions in the admin."""

import pytest

from execution.models import StepRun, WorkflowExecution


@pytest.fixture
def execution(alice):
    execution = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"], status="completed")
    StepRun.objects.create(
        execution=execution, symbol="AAPL", index=0, step_id="fetch_daily", step_type="fetch_data", status="completed"
    )
    return execution


def test_staff_browse_executions_with_their_step_runs(client, staff, execution):
    client.force_login(staff)
    for url in (
        "/admin/execution/workflowexecution/?status=completed&q=AAPL",
        f"/admin/execution/workflowexecution/{execution.pk}/change/",
        "/admin/execution/steprun/?status=completed",
        "/admin/execution/decision/",
        "/admin/execution/schedule/",
        "/admin/execution/workflowmetrics/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    assert b"fetch_daily" in client.get(f"/admin/execution/workflowexecution/{execution.pk}/change/").content


def test_traders_cannot_open_the_admin(client, alice, execution):
    client.force_login(alice)
    assert client.get("/admin/execution/workflowexecution/").status_code == 302


def test_the_admin_index_says_how_untrusted_code_runs(client, staff, settings, tmp_path):
    client.force_login(staff)
    assert b'data-sandbox="bubblewrap"' in client.get("/admin/").content

    settings.SANDBOX_BWRAP_PATH = str(tmp_path / "no-bwrap-here")
    page = client.get("/admin/").content.decode()
    assert 'data-sandbox="unavailable"' in page and "apt-get install bubblewrap" in page

    settings.SANDBOX_UNISOLATED = True
    page = client.get("/admin/").content.decode()
    assert 'data-sandbox="unisolated"' in page and "WARNING: UNISOLATED CODE SANDBOX" in page


def test_staff_read_a_failed_steps_traceback_in_the_admin(client, staff, execution):
    run = StepRun.objects.create(
        execution=execution, symbol="AAPL", index=1, step_id="code", step_type="custom_code", status="failed",
        error="custom_code failed: ValueError: x", detail='Traceback (most recent call last):\n  File "/srv/app/x.py"',
    )  # fmt: skip
    client.force_login(staff)
    assert b"/srv/app/x.py" in client.get(f"/admin/execution/steprun/{run.pk}/change/").content


def test_staff_read_an_executions_traceback_in_the_admin(client, staff, execution):
    execution.detail = 'Traceback (most recent call last):\n  File "/srv/app/engine.py"'
    execution.save(update_fields=["detail"])
    client.force_login(staff)
    assert b"/srv/app/engine.py" in client.get(f"/admin/execution/workflowexecution/{execution.pk}/change/").content
