"""A legacy strategy (no workflow; period_1/bar_1/period_2/bar_2) runs end to end, defaulted timeframes warned."""

import pytest

from execution.models import Decision, StepRun, WorkflowExecution
from execution.runner import run_execution
from execution.services import execution_create
from tests.execution.conftest import make_strategy


@pytest.mark.django_db(transaction=True)
def test_a_legacy_strategy_runs_its_two_timeframes_and_warns_of_the_defaulted_ones(alice, alice_api, client):
    legacy = make_strategy(alice, None, symbols=("AAPL",), params={"period_1": "6m", "bar_1": "1d"})
    execution = execution_create(owner=alice, strategy=legacy, params={"symbol_delay": 0}, dry_run=True)

    results = run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.COMPLETED, execution.error
    runs = {run.step_id: run for run in StepRun.objects.filter(execution=execution)}
    assert runs["fetch_daily"].output["period"] == "6m" and runs["fetch_daily"].output["bar"] == "1d"
    assert runs["fetch_weekly"].output["period"] == "1y" and runs["fetch_weekly"].output["bar"] == "1w"
    assert {"consolidate", "decide", "validate_risk"} <= {
        step_id for step_id, run in runs.items() if run.status == StepRun.Status.COMPLETED
    }
    assert Decision.objects.filter(execution=execution).count() == 1
    warnings = ["period_2 not set; using the default 1y", "bar_2 not set; using the default 1w"]
    assert results["warnings"] == warnings
    # Where the trader sees them: the execution's results in the API and on its page.
    assert alice_api.get(f"/api/workflow-executions/{execution.pk}/").data["results"]["warnings"] == warnings
    client.force_login(alice)
    page = client.get(f"/executions/{execution.pk}/results/")
    assert page.status_code == 200 and warnings[0].encode() in page.content
