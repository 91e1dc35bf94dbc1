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
