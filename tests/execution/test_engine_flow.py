"""The engine: branches, failing symbols, cancellation and bookkeeping, on cheap steps."""

import datetime

import pytest
import time_machine

from execution.cancel import execution_cancel
from execution.leases import suspended_point
from execution.models import StepRun, WorkflowExecution
from execution.runner import run_execution
from tests.support.runs import continuations_kept_here
from workflows.models import Workflow, WorkflowVersion


def _execution(owner, steps, symbols=("AAPL", "MSFT"), params=None):
    """An execution of an ad-hoc workflow (the engine runs what it is given; validation is the API's job)."""
    workflow = Workflow.objects.create(owner=owner, name="Engine test")
    version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=steps)
    workflow.current_version = version
    workflow.save()
    return WorkflowExecution.objects.create(
        owner=owner,
        workflow=workflow,
        version=version,
        symbols=list(symbols),
        params={"symbol_delay": 0, "analysis_language": "en", **(params or {})},
    )


def _wait(step_id, seconds=0):
    return {"id": step_id, "type": "wait", "name": step_id, "config": {"seconds": seconds}}


def _runs(execution, symbol):
    return {run.step_id: run for run in StepRun.objects.filter(execution=execution, symbol=symbol)}


@pytest.mark.django_db(transaction=True)
def test_a_condition_runs_one_branch_and_records_the_other_skipped(alice):
    steps = [
        {
            "id": "check",
            "type": "condition",
            "name": "AAPL only",
            "config": {"expression": "symbol == 'AAPL'", "then": ["for_aapl"], "else": ["for_others"]},
        },
        _wait("for_aapl"),
        _wait("for_others"),
        _wait("after"),
    ]
    execution = _execution(alice, steps)

    results = run_execution(execution.pk)

    aapl, msft = _runs(execution, "AAPL"), _runs(execution, "MSFT")
    assert aapl["check"].output["value"] is True and msft["check"].output["value"] is False
    assert aapl["for_aapl"].status == "completed" and aapl["for_others"].status == "skipped"
    assert msft["for_aapl"].status == "skipped" and msft["for_others"].status == "completed"
    assert "Branch not taken" in msft["for_aapl"].output["reason"]
    assert aapl["after"].status == msft["after"].status == "completed"
    assert results["symbols_processed"] == 2 and results["errors"] == []
    execution.refresh_from_db()
    assert execution.status == "completed"
    assert execution.progress["total_steps"] == 8 and execution.progress["current_step"] == 8
    assert execution.progress["completed_symbols"] == 2


@pytest.mark.django_db(transaction=True)
def test_a_failing_symbol_is_recorded_and_the_next_one_runs(alice):
    steps = [
        {
            "id": "screen",
            "type": "custom_code",
            "name": "Screen",
            "config": {
                "code": "if inputs['symbol'] == 'MSFT':\n    raise ValueError('no data for MSFT')\n"
                "result = {'symbol': inputs['symbol']}",
                "timeout": 10,
            },
        },
        _wait("after"),
    ]
    execution = _execution(alice, steps, symbols=("MSFT", "AAPL"))

    results = run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.status == "completed"
    assert results["symbols_processed"] == 2
    assert len(results["errors"]) == 1
    error = results["errors"][0]
    assert error["symbol"] == "MSFT" and error["step_id"] == "screen"
    assert "ValueError: no data for MSFT" in error["error"]
    msft, aapl = _runs(execution, "MSFT"), _runs(execution, "AAPL")
    assert msft["screen"].status == "failed" and "no data for MSFT" in msft["screen"].error
    assert "after" not in msft
    assert aapl["screen"].status == "completed" and aapl["screen"].output["result"] == {"symbol": "AAPL"}
    assert aapl["after"].status == "completed"


@pytest.mark.django_db(transaction=True)
def test_an_execution_fails_when_every_symbol_fails(alice):
    steps = [{"id": "boom", "type": "custom_code", "name": "Boom", "config": {"code": "1 / 0", "timeout": 10}}]
    execution = _execution(alice, steps, symbols=("AAPL",))
    run_execution(execution.pk)
    execution.refresh_from_db()
    assert execution.status == "failed"
    assert "Every symbol failed" in execution.error
    assert execution.completed_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_cancel_during_a_wait_ends_the_execution_at_once_and_its_continuation_runs_nothing(alice):
    execution = _execution(alice, [_wait("long", seconds=60), _wait("after")], symbols=("AAPL", "MSFT"))
    with continuations_kept_here():
        run_execution(execution.pk)  # the first segment starts the wait and returns
    execution.refresh_from_db()
    point = suspended_point(execution)
    assert execution.status == "running" and point["kind"] == "wait"

    execution_cancel(execution)

    execution.refresh_from_db()
    assert execution.status == "cancelled" and execution.completed_at is not None
    long_wait = StepRun.objects.get(execution=execution, step_id="long")
    assert (long_wait.status, long_wait.output["cancelled"]) == ("completed", True)
    with time_machine.travel(datetime.datetime.fromisoformat(point["wake_at"]) + datetime.timedelta(seconds=1)):
        run_execution(execution.pk, point["token"])  # the continuation, had the revoke missed it
    execution.refresh_from_db()
    assert execution.status == "cancelled"
    assert not StepRun.objects.filter(execution=execution, step_id="after").exists()
    assert not StepRun.objects.filter(execution=execution, symbol="MSFT").exists()


@pytest.mark.django_db(transaction=True)
def test_a_finished_execution_is_not_run_again(alice):
    execution = _execution(alice, [_wait("only")], symbols=("AAPL",))
    first = run_execution(execution.pk)
    second = run_execution(execution.pk)
    assert first == second
    assert StepRun.objects.filter(execution=execution).count() == 1
