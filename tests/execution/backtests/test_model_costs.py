"""Honest about models: a real model's cost is estimated first and capped by the budget; answers are cached."""

from datetime import date
from decimal import Decimal

import pytest

from agents.models import ModelAnswer, ModelPrice, ModelProvider
from agents.offline import OfflineAnalyst
from execution.backtests import engine
from execution.backtests.engine import BacktestRun
from execution.models import Backtest
from tests.execution.backtests.conftest import new_backtest, small_workflow
from tests.execution.conftest import make_strategy

pytestmark = pytest.mark.django_db
RANGE = {"start": "2024-03-04", "end": "2024-03-06", "every": "1d"}  # 3 points


@pytest.fixture
def lab(db):
    """A paid provider staff priced at $1 per million tokens in and $2 out."""
    provider = ModelProvider.objects.create(name="lab", base_url="http://127.0.0.1:9/v1", allowed_models=["llama3"])
    ModelPrice.objects.create(provider=provider, model="llama3", input_price=Decimal("1"), output_price=Decimal("2"))
    return provider


class PaidModel(OfflineAnalyst):
    """Stands in for the lab's llama3 (no network here): it answers as the offline analyst and counts its calls."""

    provider, calls = "lab", 0

    def __init__(self):
        self.model = "llama3"

    def complete(self, messages, **options):
        PaidModel.calls += 1
        return super().complete(messages, **options)


def post(client, workflow, strategy):
    body = {"strategy_id": strategy.pk, "model": "llama3", **RANGE}
    return client.post(f"/api/workflows/{workflow.pk}/backtests/", body, format="json")


def test_a_real_models_cost_is_estimated_and_a_backtest_above_the_budget_is_refused(alice, alice_api, lab):
    workflow = small_workflow(alice)
    strategy = make_strategy(alice, workflow, symbols=["AAPL", "MSFT"])
    strategy.daily_cost_budget = Decimal("0.01")
    strategy.save(update_fields=["daily_cost_budget"])
    response = post(alice_api, workflow, strategy)
    # 3 points x 2 symbols x 2 model steps, each up to 1 500 tokens in and its max_tokens out.
    assert response.status_code == 400 and "budget" in response.json()["model"][0], response.json()
    assert not Backtest.objects.exists()
    strategy.daily_cost_budget = Decimal("10")
    strategy.save(update_fields=["daily_cost_budget"])
    response = post(alice_api, workflow, strategy)
    assert response.status_code == 202, response.json()
    estimate = Backtest.objects.get().estimated_cost
    assert Decimal("0.01") < estimate < Decimal("10")


def test_the_offline_analyst_costs_nothing(alice):
    assert new_backtest(alice, start=date(2024, 3, 4), end=date(2024, 3, 6)).estimated_cost == 0


def test_a_rerun_is_answered_from_the_cache_and_pays_nothing(alice, lab, monkeypatch):
    monkeypatch.setattr(engine, "get_model_client", lambda model, provider="": PaidModel())
    PaidModel.calls = 0
    first = BacktestRun(new_backtest(alice, start=date(2024, 3, 4), end=date(2024, 3, 6), model="llama3")).run()
    assert first.status == "completed", first.error
    assert first.model_calls == PaidModel.calls == 3 * 2 * 2 and first.cached_calls == 0
    assert first.cost > 0 and ModelAnswer.objects.count() == first.model_calls
    second = BacktestRun(new_backtest(alice, first.workflow, start=date(2024, 3, 4), end=date(2024, 3, 6),
                                      model="llama3")).run()  # fmt: skip
    assert PaidModel.calls == first.model_calls, "the rerun asked the model again"
    assert second.cached_calls == second.model_calls == first.model_calls and second.cost == 0
    assert second.results == first.results
