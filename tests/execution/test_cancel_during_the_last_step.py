"""A cancel that lands while the last step of the last symbol runs ends the execution cancelled, work kept."""

import pytest

from execution.models import StepRun, WorkflowExecution
from execution.runner import run_execution
from execution.steps import STEP_IMPLEMENTATIONS
from tests.execution.test_engine_flow import _execution, _wait

LAST_SYMBOL = "MSFT"


def _wait_cancelled_during_the_last_step(config, ctx):
    """The wait step, during which the trader cancels (as execution_cancel flags a running execution)."""
    if ctx.symbol == LAST_SYMBOL and ctx.step_id == "last":
        WorkflowExecution.objects.filter(pk=ctx.execution.pk).update(cancel_requested=True)
    return {"seconds": 0, "cancelled_while_running": ctx.symbol == LAST_SYMBOL and ctx.step_id == "last"}


@pytest.mark.django_db(transaction=True)
def test_a_cancel_during_the_last_step_of_the_last_symbol_ends_cancelled(alice, monkeypatch):
    monkeypatch.setitem(STEP_IMPLEMENTATIONS, "wait", _wait_cancelled_during_the_last_step)
    execution = _execution(alice, [_wait("first"), _wait("last")], symbols=("AAPL", LAST_SYMBOL))

    results = run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.CANCELLED
    assert execution.completed_at is not None
    # What was done is kept: both symbols ran to their end.
    assert results["symbols_processed"] == 2 and results["errors"] == []
    assert StepRun.objects.filter(execution=execution, status=StepRun.Status.COMPLETED).count() == 4
