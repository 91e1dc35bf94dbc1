"""A replay against the model asks the current model again on the frozen inputs and reports what changed."""

import json

import pytest

from agents import calls
from agents.clients import Completion
from agents.offline import OfflineAnalyst
from broker.models import Order, SimulatedOrder
from execution.replay import execution_replay
from tests.execution.conftest import wait_for_execution

CAUTIOUS_CONFIDENCE = "0.05"


class CautiousModel:
    """A second model (scripted: no paid LLM exists here) that reads like the offline analyst but always holds."""

    provider = "scripted"
    model = "cautious-1"

    def __init__(self):
        self.analyst = OfflineAnalyst()

    def complete(self, messages, *, json_schema=None, **options) -> Completion:
        answer = self.analyst.complete(messages, json_schema=json_schema, **options)
        text = answer.text
        if json_schema is not None:
            decision = json.loads(text)
            decision.update(decision="HOLD", target_price=None, stop_loss=None, confidence=float(CAUTIOUS_CONFIDENCE))
            text = json.dumps(decision)
        return Completion(text, answer.tokens_in, answer.tokens_out, self.model, self.provider)


@pytest.mark.django_db(transaction=True)
def test_a_model_replay_runs_on_the_worker_and_reports_the_changed_decisions(
    alice, finished_execution, celery_worker, monkeypatch
):
    monkeypatch.setattr(calls, "get_model_client", lambda model=None, provider="": CautiousModel())
    orders, exchange_orders = Order.objects.count(), SimulatedOrder.objects.count()

    pending = execution_replay(execution=finished_execution, mode="model", user=alice)

    assert pending.status == "pending" and pending.identical is None and pending.decisions == []
    replay = wait_for_execution(pending.replay_execution_id)
    assert replay.status == "completed"
    report = replay.results["replay"]
    assert report["mode"] == "model" and report["identical"] is False
    originals = {diff["symbol"]: diff for diff in report["decisions"]}
    assert set(originals) == set(finished_execution.symbols)
    for diff in report["decisions"]:
        assert diff["replayed"]["type"] == "hold" and diff["replayed"]["confidence"] == CAUTIOUS_CONFIDENCE
        assert "confidence" in diff["changed"]
        assert "current_price" not in diff["changed"], "the frozen bars give the same price"
        assert ("type" in diff["changed"]) == (diff["original"]["type"] != "hold")
    assert any("type" in diff["changed"] for diff in report["decisions"])
    assert Order.objects.count() == orders and SimulatedOrder.objects.count() == exchange_orders
