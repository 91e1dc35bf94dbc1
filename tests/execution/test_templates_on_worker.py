"""Each built-in template runs end to end on a real Celery worker: simulated broker, offline analyst."""

import pytest

from agents.models import LLMCall
from broker.models import Order
from execution.models import Decision, StepRun, WorkflowExecution
from execution.services import execution_create, execution_enqueue
from tests.execution.conftest import TEMPLATES, make_strategy, wait_for_execution, workflow_from_template

SYMBOLS = ("AAPL", "MSFT")


def _run_on_worker(owner, template_type, **options):
    workflow = workflow_from_template(owner, template_type)
    strategy = make_strategy(owner, workflow, symbols=SYMBOLS)
    execution = execution_create(owner=owner, strategy=strategy, params={"symbol_delay": 0}, **options)
    execution_enqueue(execution)
    return wait_for_execution(execution.pk)


def _check_decision(decision: Decision, runs: dict[str, StepRun]):
    assert decision.current_price and decision.current_price > 0
    assert decision.analysis_text
    risk_run = runs["validate_risk"]
    assert risk_run.status == StepRun.Status.COMPLETED
    assert decision.risk, "the risk arithmetic is kept on the decision"
    order_run = runs["place_order"]
    if decision.type == Decision.Type.HOLD:
        assert decision.status == Decision.Status.PROPOSED
        assert order_run.status == StepRun.Status.SKIPPED
    elif decision.status == Decision.Status.REJECTED:
        assert decision.rejection_reasons
        assert order_run.status == StepRun.Status.SKIPPED
        assert "rejected by risk" in order_run.output["reason"]
    else:
        assert decision.status == Decision.Status.EXECUTED
        assert decision.r_coefficient >= 1
        order = Order.objects.get(decision=decision, parent__isnull=True)  # the entry; its exits are children
        assert order_run.output["order_id"] == order.pk
        assert order.idempotency_key == order_run.output["idempotency_key"]
        assert order.quantity == decision.quantity
        assert order.side == decision.type.upper()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("template_type", ["single_timeframe", "two_indicator", "three_indicator", "custom"])
def test_each_builtin_template_runs_end_to_end_on_the_worker(template_type, alice, celery_worker):
    execution = _run_on_worker(alice, template_type)

    assert execution.status == WorkflowExecution.Status.COMPLETED, (execution.error, execution.results)
    steps = TEMPLATES[template_type]["steps"]
    results = execution.results
    assert results["symbols_processed"] == 2 and results["errors"] == []
    decisions = Decision.objects.filter(execution=execution)
    for symbol in SYMBOLS:
        runs = {run.step_id: run for run in StepRun.objects.filter(execution=execution, symbol=symbol)}
        assert set(runs) == {step["id"] for step in steps}
        assert all(run.status in ("completed", "skipped") for run in runs.values())
        for step in steps:
            run = runs[step["id"]]
            if step["type"] == "fetch_data":
                assert run.output["bars"] > 20 and len(run.output["bars_sha256"]) == 64
            if step["type"] == "generate_chart":
                assert len(run.output["sha256"]) == 64
            if step["type"] in ("ai_analyze", "consolidate"):
                assert run.output["response"] and run.output["prompt"]
                assert LLMCall.objects.filter(pk=run.output["llm_call_id"], symbol=symbol).exists()
        if "decide" in runs:
            decision = decisions.get(instrument__symbol=symbol)
            _check_decision(decision, runs)
    made = results["decisions_made"]
    assert sum(made.values()) == decisions.count() == (2 if any(s["type"] == "decide" for s in steps) else 0)
    assert results["orders_placed"] == Order.objects.filter(execution=execution, parent__isnull=True).count()
    assert execution.progress["completed_symbols"] == 2
    assert execution.started_at <= execution.completed_at


@pytest.mark.django_db(transaction=True)
def test_a_dry_run_of_a_template_places_no_order(alice, celery_worker):
    execution = _run_on_worker(alice, "single_timeframe", dry_run=True)

    assert execution.status == WorkflowExecution.Status.COMPLETED, execution.error
    assert not Order.objects.exists()
    assert execution.results["orders_placed"] == 0
    for run in StepRun.objects.filter(execution=execution, step_id="place_order", status="completed"):
        assert run.output["message"].startswith("Dry run - order not placed")
