"""Budgets fail closed: an unpriced model costs "unknown", a budgeted strategy refuses it, the last dollar goes once."""

import threading
from decimal import Decimal

import pytest
from django.db import connections

from agents.calls import BudgetExceeded, UnpricedModel, budget_remaining, call_model, execution_cost
from agents.models import ModelPrice, ModelProvider
from tests.agents.conftest import ScriptedModel


@pytest.fixture
def strategy(alice):
    from workflows.models import Strategy

    return Strategy.objects.create(owner=alice, name="Budgeted", daily_cost_budget=Decimal("0.01"))


@pytest.fixture
def execution(alice, strategy):
    from execution.models import WorkflowExecution

    return WorkflowExecution.objects.create(owner=alice, strategy=strategy, symbols=["AAPL"])


@pytest.fixture
def lab(db):
    """A provider staff added with a model they have not priced yet."""
    return ModelProvider.objects.create(name="lab", base_url="http://127.0.0.1:9/v1", allowed_models=["llama3"])


class LabModel(ScriptedModel):
    provider = "lab"


def test_a_call_to_an_unpriced_model_costs_unknown_not_zero(fast_retries, alice, lab):
    from execution.models import WorkflowExecution

    unbudgeted = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"])
    call = call_model(prompt="x", execution_id=unbudgeted.pk, client=LabModel(["y"], "llama3", (1000, 500)))

    assert call.cost is None and (call.tokens_in, call.tokens_out) == (1000, 500)
    assert execution_cost(unbudgeted.pk) is None


def test_staff_prices_in_the_admin_price_the_model(fast_retries, strategy, execution, lab):
    ModelPrice.objects.create(provider=lab, model="llama3", input_price=Decimal("1"), output_price=Decimal("2"))

    call = call_model(prompt="x", execution_id=execution.pk, client=LabModel(["y"], "llama3", (1000, 500)))

    assert call.cost == Decimal("0.002000")  # the model's own usage: 1000 x $1/M + 500 x $2/M


def test_staff_prices_override_the_settings_default_for_the_default_provider(fast_retries, execution):
    ModelPrice.objects.create(provider=None, model="gpt-4o", input_price=Decimal("1"), output_price=Decimal("1"))

    call = call_model(prompt="x", execution_id=execution.pk, client=ScriptedModel(["y"], "gpt-4o", (1000, 1000)))

    assert call.cost == Decimal("0.002000")


def test_a_strategy_with_a_cost_budget_refuses_an_unpriced_model_before_asking_it(fast_retries, execution, lab):
    model = LabModel(["never asked"], "llama3")

    with pytest.raises(UnpricedModel, match="'llama3' at provider 'lab' has no known price"):
        call_model(prompt="x", execution_id=execution.pk, client=model)

    assert model.requests == []


def _start(api, strategy, workflow):
    return api.post(f"/api/workflows/{workflow.pk}/execute/", {"strategy_id": strategy.pk}, format="json")


def test_execute_refuses_to_start_a_budgeted_strategy_on_an_unpriced_model(alice, alice_api, lab):
    from execution.models import WorkflowExecution
    from tests.execution.conftest import make_strategy, workflow_from_template
    from workflows.models import WorkflowVersion

    workflow = workflow_from_template(alice, "single_timeframe")
    version = workflow.current_version
    on_lab = {"provider": "lab", "model": "llama3"}
    steps = [
        {**step, "config": {**step["config"], **on_lab}} if step["type"] == "decide" else step for step in version.steps
    ]
    WorkflowVersion.objects.filter(pk=version.pk).update(steps=steps)
    strategy = make_strategy(alice, workflow, symbols=["AAPL"])
    strategy.daily_cost_budget = Decimal("5")
    strategy.save()

    response = _start(alice_api, strategy, workflow)

    assert response.status_code == 400
    assert "'llama3' at provider 'lab' has no known price" in str(response.json()["strategy_id"])
    assert not WorkflowExecution.objects.exists()

    ModelPrice.objects.create(provider=lab, model="llama3", input_price=Decimal("1"), output_price=Decimal("2"))
    assert "no known price" not in str(_start(alice_api, strategy, workflow).json())


class HeldModel(ScriptedModel):
    """Answers only once `release` is set, after telling `asked` it has been called."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked, self.release = threading.Event(), threading.Event()

    def complete(self, messages, **options):
        self.asked.set()
        assert self.release.wait(30), "the test never released the first call"
        return super().complete(messages, **options)


@pytest.mark.django_db(transaction=True)
def test_two_calls_at_the_same_moment_cannot_both_spend_the_last_of_the_budget(fast_retries, strategy, execution):
    first = HeldModel(["first answer"], "gpt-4o", (500, 500))
    outcomes = {}

    def call_in_thread(name, model):
        try:
            outcomes[name] = call_model(prompt="x", execution_id=execution.pk, client=model, max_tokens=1000)
        except BudgetExceeded as exc:
            outcomes[name] = exc
        finally:
            connections.close_all()

    running = threading.Thread(target=call_in_thread, args=("first", first))
    running.start()
    assert first.asked.wait(30)  # the first call is in flight, its worst case ($0.01+) held on the ledger
    second = ScriptedModel(["never asked"], "gpt-4o", (500, 500))
    racing = threading.Thread(target=call_in_thread, args=("second", second))
    racing.start()
    racing.join(30)
    first.release.set()
    running.join(30)

    assert isinstance(outcomes["second"], BudgetExceeded) and second.requests == []
    assert outcomes["first"].cost == Decimal("0.006250")  # 500 x $2.50/M + 500 x $10/M
    status = budget_remaining(strategy)
    assert status.cost_used == Decimal("0.006250"), "the first call's worst case was replaced by what it spent"
