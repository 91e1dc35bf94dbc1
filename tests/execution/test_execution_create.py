"""execution_create checks everything before a run exists, pins the version and merges the parameters."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agents.calls import todays_ledger
from agents.models import BudgetLedger
from execution.models import WorkflowExecution
from execution.services import execution_create
from tests.execution.conftest import make_strategy, workflow_from_template
from workflows.models import Strategy, WorkflowVersion


@pytest.fixture
def workflow(alice):
    return workflow_from_template(alice, "two_indicator")


@pytest.fixture
def strategy(alice, workflow):
    return make_strategy(alice, workflow, symbols=("AAPL", "MSFT"), params={"min_r_coefficient": 1.5})


def test_it_pins_the_current_version_and_merges_parameters_in_order(alice, workflow, strategy):
    execution = execution_create(owner=alice, strategy=strategy, params={"min_r_coefficient": 2, "symbol_delay": 5})
    assert execution.status == WorkflowExecution.Status.PENDING
    assert execution.workflow == workflow and execution.version == workflow.current_version
    assert execution.symbols == ["AAPL", "MSFT"]
    assert execution.params["min_r_coefficient"] == 2  # request beats strategy
    assert execution.params["risk_per_trade"] == 0.01  # the workflow's default
    assert execution.params["symbol_delay"] == 5
    assert execution.params["analysis_language"] == "en"


def test_it_keeps_the_requested_symbols_in_order_without_duplicates(alice, strategy):
    execution = execution_create(owner=alice, strategy=strategy, symbols=["msft", "AAPL", "MSFT"])
    assert execution.symbols == ["MSFT", "AAPL"]


def test_it_refuses_another_traders_strategy(bob, strategy):
    with pytest.raises(ValidationError) as refused:
        execution_create(owner=bob, strategy=strategy)
    assert "strategy_id" in refused.value.message_dict


def test_it_refuses_a_deleted_workflow(alice, workflow, strategy):
    workflow.deleted_at = timezone.now()
    workflow.save()
    with pytest.raises(ValidationError, match="was deleted"):
        execution_create(owner=alice, workflow=workflow, strategy=strategy)
    assert not WorkflowExecution.objects.exists()


def test_it_refuses_an_unknown_priority(alice, strategy):
    with pytest.raises(ValidationError) as refused:
        execution_create(owner=alice, strategy=strategy, priority="urgent")
    assert "priority" in refused.value.message_dict


def test_it_refuses_a_strategy_over_its_daily_model_budget(alice, strategy):
    strategy.daily_token_budget = 100
    strategy.save()
    execution_create(owner=alice, strategy=strategy)
    BudgetLedger.objects.filter(pk=todays_ledger(strategy.pk).pk).update(tokens_spent=110)  # as the calls record it
    with pytest.raises(ValidationError, match="budget"):
        execution_create(owner=alice, strategy=strategy)


def test_a_strategy_without_workflow_runs_the_legacy_flow(alice):
    legacy = make_strategy(alice, None, symbols=("AAPL",), params={"period_1": "6m", "bar_1": "1d"})
    execution = execution_create(owner=alice, strategy=legacy)
    assert execution.workflow is None and execution.version is None
    assert execution.params["period_1"] == "6m" and execution.params["symbol_delay"] == 60


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ({"provider": "nowhere"}, "unknown provider 'nowhere'"),
        ({"provider": "default", "model": "gpt-9"}, "does not offer model 'gpt-9'"),
    ],
)
def test_it_refuses_a_run_that_would_ask_a_model_no_provider_offers(alice, workflow, strategy, choice, message):
    version = workflow.current_version
    steps = [{**step, "config": {**step["config"], **choice}} if step["type"] == "decide" else step
             for step in version.steps]
    WorkflowVersion.objects.filter(pk=version.pk).update(steps=steps)

    with pytest.raises(ValidationError, match=message):
        execution_create(owner=alice, strategy=Strategy.objects.get(pk=strategy.pk))
    assert not WorkflowExecution.objects.exists()
