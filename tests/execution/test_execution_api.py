"""The execution API: owners start and follow their runs; other traders get 404; staff see all."""

import pytest

from execution.models import Decision, StepRun, WorkflowExecution
from tests.execution.conftest import make_strategy, workflow_from_template


@pytest.fixture
def alice_workflow(alice):
    return workflow_from_template(alice, "single_timeframe")


@pytest.fixture
def alice_strategy(alice, alice_workflow):
    return make_strategy(alice, alice_workflow, symbols=("AAPL", "MSFT"))


def _execute(client, workflow, strategy, **body):
    return client.post(f"/api/workflows/{workflow.pk}/execute/", {"strategy_id": strategy.pk, **body}, format="json")


def test_it_starts_an_execution_and_answers_202_with_ids(
    alice_api, alice_workflow, alice_strategy, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = _execute(
            alice_api, alice_workflow, alice_strategy, priority="high", symbols=["msft"], params={"symbol_delay": 0}
        )
    assert response.status_code == 202, response.json()
    execution = WorkflowExecution.objects.get(pk=response.json()["workflow_execution_id"])
    assert response.json()["task_id"] == execution.task_id
    assert execution.status == WorkflowExecution.Status.PENDING
    assert execution.priority == "high"
    assert execution.symbols == ["MSFT"]
    assert execution.version == alice_workflow.current_version
    assert execution.params["symbol_delay"] == 0
    assert execution.params["analysis_language"] == "en"
    assert len(callbacks) == 1  # the task is sent only once the row is committed


def test_it_runs_the_strategys_workflow_from_the_strategy_endpoint(alice_api, alice_strategy):
    response = alice_api.post("/api/workflow/execute/", {"strategy_id": alice_strategy.pk}, format="json")
    assert response.status_code == 202, response.json()
    execution = WorkflowExecution.objects.get(pk=response.json()["workflow_execution_id"])
    assert execution.workflow == alice_strategy.workflow
    assert execution.symbols == ["AAPL", "MSFT"]


def test_it_refuses_symbols_outside_the_strategy(alice_api, alice_workflow, alice_strategy):
    response = _execute(alice_api, alice_workflow, alice_strategy, symbols=["TSLA"])
    assert response.status_code == 400
    assert "TSLA" in str(response.json()["symbols"])
    assert not WorkflowExecution.objects.exists()


def test_it_refuses_bad_fields(alice_api, alice_workflow, alice_strategy):
    response = _execute(alice_api, alice_workflow, alice_strategy, priority="urgent", params={"no_such_param": 1})
    assert response.status_code == 400
    assert "priority" in response.json()
    response = alice_api.post(f"/api/workflows/{alice_workflow.pk}/execute/", {}, format="json")
    assert response.status_code == 400
    assert "strategy_id" in response.json()
    response = _execute(alice_api, alice_workflow, alice_strategy, params={"no_such_param": 1})
    assert response.status_code == 400
    assert "no_such_param" in str(response.json()["params"])
    assert not WorkflowExecution.objects.exists()


def test_it_hides_other_traders_workflows_and_strategies(bob_api, alice_workflow, alice_strategy, bob):
    assert _execute(bob_api, alice_workflow, alice_strategy).status_code == 404
    bob_workflow = workflow_from_template(bob, "single_timeframe")
    response = _execute(bob_api, bob_workflow, alice_strategy)
    assert response.status_code == 400
    assert "strategy_id" in response.json()


def test_staff_may_start_a_traders_execution(staff_api, alice, alice_workflow, alice_strategy):
    response = _execute(staff_api, alice_workflow, alice_strategy)
    assert response.status_code == 202, response.json()
    assert WorkflowExecution.objects.get().owner == alice


@pytest.fixture
def alice_execution(alice, alice_workflow, alice_strategy):
    from broker.instruments import qualify_symbol

    execution = WorkflowExecution.objects.create(
        owner=alice,
        workflow=alice_workflow,
        version=alice_workflow.current_version,
        strategy=alice_strategy,
        symbols=["AAPL"],
        status=WorkflowExecution.Status.COMPLETED,
        results={
            "symbols_processed": 1,
            "decisions_made": {"buy": 1, "sell": 0, "hold": 0},
            "orders_placed": 0,
            "errors": [],
        },
    )
    StepRun.objects.create(
        execution=execution,
        symbol="AAPL",
        index=0,
        step_id="fetch_daily",
        step_type="fetch_data",
        status=StepRun.Status.COMPLETED,
        output={"bars": 250},
    )
    Decision.objects.create(
        execution=execution,
        strategy=alice_strategy,
        instrument=qualify_symbol("AAPL"),
        type=Decision.Type.BUY,
        current_price="100",
        target_price="110",
        stop_loss="95",
        status=Decision.Status.REJECTED,
        rejection_reasons=["R below 1.0"],
    )
    return execution


def test_owners_list_and_read_their_executions_steps_and_decisions(alice_api, alice_execution):
    listing = alice_api.get("/api/workflow-executions/").json()
    assert [row["id"] for row in listing["results"]] == [alice_execution.pk]
    detail = alice_api.get(f"/api/workflow-executions/{alice_execution.pk}/").json()
    assert detail["results"]["decisions_made"] == {"buy": 1, "sell": 0, "hold": 0}
    assert {"progress", "results", "task_id", "started_at", "completed_at", "priority", "dry_run"} <= set(detail)
    steps = alice_api.get(f"/api/workflow-executions/{alice_execution.pk}/steps/").json()
    assert steps[0]["step_id"] == "fetch_daily" and steps[0]["output"] == {"bars": 250}
    decisions = alice_api.get("/api/decisions/", {"symbol": "AAPL", "type": "buy"}).json()["results"]
    assert decisions[0]["symbol"] == "AAPL"
    assert decisions[0]["rejection_reasons"] == ["R below 1.0"]
    assert decisions[0]["order"] is None
    assert alice_api.get(f"/api/decisions/{decisions[0]['id']}/").status_code == 200


def test_lists_filter_by_status_strategy_and_dates(alice_api, alice_execution):
    assert alice_api.get("/api/workflow-executions/", {"status": "running"}).json()["results"] == []
    assert (
        len(alice_api.get("/api/workflow-executions/", {"strategy": alice_execution.strategy_id}).json()["results"])
        == 1
    )
    assert alice_api.get("/api/workflow-executions/", {"since": "2999-01-01T00:00:00Z"}).json()["results"] == []
    assert alice_api.get("/api/decisions/", {"status": "approved"}).json()["results"] == []
    assert alice_api.get("/api/workflow-executions/", {"status": "exploded"}).status_code == 400


def test_other_traders_get_404_for_executions_and_decisions(bob_api, alice_execution):
    decision = alice_execution.decisions.get()
    assert bob_api.get("/api/workflow-executions/").json()["results"] == []
    assert bob_api.get(f"/api/workflow-executions/{alice_execution.pk}/").status_code == 404
    assert bob_api.get(f"/api/workflow-executions/{alice_execution.pk}/steps/").status_code == 404
    assert bob_api.get("/api/decisions/").json()["results"] == []
    assert bob_api.get(f"/api/decisions/{decision.pk}/").status_code == 404


def test_staff_see_every_execution_and_decision(staff_api, alice_execution):
    assert staff_api.get(f"/api/workflow-executions/{alice_execution.pk}/").status_code == 200
    assert len(staff_api.get("/api/decisions/").json()["results"]) == 1


def test_anonymous_callers_are_refused(api_client, alice_execution):
    assert api_client.get("/api/workflow-executions/").status_code in (401, 403)
