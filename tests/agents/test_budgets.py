from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import F

from agents.calls import BudgetExceeded, budget_remaining, call_model, check_budget
from agents.models import BudgetLedger, LLMCall
from tests.agents.conftest import ScriptedModel


@pytest.fixture
def strategy(alice):
    from workflows.models import Strategy

    return Strategy.objects.create(owner=alice, name="Momentum", daily_token_budget=3000, daily_cost_budget=None)


@pytest.fixture
def execution(alice, strategy):
    from execution.models import WorkflowExecution

    return WorkflowExecution.objects.create(owner=alice, strategy=strategy, symbols=["AAPL"])


def spend(execution, tokens_in, tokens_out, model="gpt-4o"):
    return call_model(
        prompt="x", execution_id=execution.pk, client=ScriptedModel(["y"], model, (tokens_in, tokens_out))
    )


def test_it_counts_todays_tokens_and_cost_of_the_strategys_executions(fast_retries, strategy, execution):
    spend(execution, 1000, 500)
    status = budget_remaining(strategy)
    assert (status.tokens_used, status.tokens_remaining) == (1500, 1500)
    assert status.cost_used == Decimal("0.0075") and status.cost_remaining is None
    assert not status.exceeded


def test_it_refuses_calls_once_the_token_budget_is_spent(fast_retries, strategy, execution):
    spend(execution, 2000, 1000)
    with pytest.raises(BudgetExceeded, match="has spent today's model budget \\(3000 of 3000 tokens\\)"):
        check_budget(strategy)
    model = ScriptedModel(["never asked"])
    with pytest.raises(BudgetExceeded):
        call_model(prompt="x", execution_id=execution.pk, client=model)
    assert model.requests == []
    assert LLMCall.objects.filter(execution=execution).count() == 1


def test_it_refuses_calls_once_the_cost_budget_is_spent(fast_retries, strategy, execution):
    strategy.daily_token_budget = None
    strategy.daily_cost_budget = Decimal("0.01")
    strategy.save()
    spend(execution, 1000, 500)  # $0.0075
    check_budget(strategy)
    spend(execution, 1000, 500)  # $0.015: the call that crosses the line is allowed, the next is not
    with pytest.raises(BudgetExceeded, match="\\$0.015000 of \\$0.0100"):
        spend(execution, 1, 1)


def test_it_forgets_yesterdays_spending(fast_retries, strategy, execution):
    spend(execution, 2000, 1000)
    BudgetLedger.objects.filter(strategy=strategy).update(day=F("day") - timedelta(days=1))
    assert check_budget(strategy).tokens_used == 0


def test_it_does_not_count_other_strategies(fast_retries, alice, strategy):
    from execution.models import WorkflowExecution
    from workflows.models import Strategy

    other = Strategy.objects.create(owner=alice, name="Other")
    spend(WorkflowExecution.objects.create(owner=alice, strategy=other), 5000, 5000)
    assert check_budget(strategy).tokens_used == 0


def test_a_strategy_without_budgets_is_never_refused(fast_retries, strategy, execution):
    strategy.daily_token_budget = None
    strategy.save()
    spend(execution, 100000, 100000)
    assert not check_budget(strategy).exceeded
