"""The backtest API: 202 with an id, list by workflow, detail, owner isolation, bad input refused, cancel."""

from datetime import date

import pytest
import time_machine

from execution.backtests.engine import BacktestRun
from execution.models import Backtest
from tests.execution.backtests.conftest import new_backtest, small_workflow
from tests.execution.conftest import make_strategy
from workflows.models import WorkflowVersion

pytestmark = pytest.mark.django_db


def request_body(strategy, **overrides):
    return {"strategy_id": strategy.pk, "start": "2024-03-04", "end": "2024-03-08", "every": "1d",
            "initial_cash": "50000", "commission": "0.005", "slippage_bps": "2", **overrides}  # fmt: skip


@pytest.fixture
def setup(alice):
    workflow = small_workflow(alice)
    return workflow, make_strategy(alice, workflow, symbols=["AAPL"])


def test_starting_a_backtest_answers_202_and_it_is_listed_by_workflow(
    alice_api, setup, django_capture_on_commit_callbacks
):
    workflow, strategy = setup
    with django_capture_on_commit_callbacks() as callbacks:
        response = alice_api.post(f"/api/workflows/{workflow.pk}/backtests/", request_body(strategy), format="json")
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1  # the task is sent once the row is committed
    backtest = Backtest.objects.get(pk=response.json()["backtest_id"])
    assert response.json()["task_id"] == backtest.task_id
    assert backtest.version == workflow.current_version and backtest.status == "pending"
    assert backtest.estimated_cost == 0  # the offline analyst
    listed = alice_api.get("/api/backtests/", {"workflow": workflow.pk}).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["id"] for row in rows] == [backtest.pk]
    assert alice_api.get(f"/api/backtests/{backtest.pk}/").json()["progress"]["points_total"] == 5


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"start": "2024-03-09", "end": "2024-03-10"}, "end"),  # a weekend: no decision point
        ({"start": "2024-03-08", "end": "2024-03-04"}, "start"),
        ({"start": "2011-06-01", "end": "2012-03-01"}, "start"),  # before the market data
        ({"every": "every tuesday"}, "every"),
        ({"end": "2026-12-31"}, "end"),  # not over yet
        ({"initial_cash": "0"}, "initial_cash"),
    ],
)
@time_machine.travel("2026-06-01 12:00Z", tick=False)
def test_bad_input_is_refused_with_field_errors_and_creates_nothing(alice_api, setup, overrides, field):
    workflow, strategy = setup
    response = alice_api.post(f"/api/workflows/{workflow.pk}/backtests/", request_body(strategy, **overrides),
                              format="json")  # fmt: skip
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Backtest.objects.exists()


def test_a_workflow_without_fetch_data_is_refused(alice, alice_api):
    # Saving refuses such a workflow; one kept from before that rule may still be around.
    workflow = small_workflow(alice)
    steps = [{"id": "decide", "type": "decide", "name": "Decide", "config": {}}]
    WorkflowVersion.objects.filter(pk=workflow.current_version_id).update(steps=steps)
    strategy = make_strategy(alice, workflow, symbols=["AAPL"])
    response = alice_api.post(f"/api/workflows/{workflow.pk}/backtests/", request_body(strategy), format="json")
    assert response.status_code == 400 and "workflow" in response.json()
    assert not Backtest.objects.exists()


def test_another_trader_sees_none_of_it(alice, bob_api, setup):
    workflow, strategy = setup
    backtest = new_backtest(alice, workflow)
    assert bob_api.get(f"/api/backtests/{backtest.pk}/").status_code == 404
    assert bob_api.delete(f"/api/backtests/{backtest.pk}/").status_code == 404
    listed = bob_api.get("/api/backtests/").json()
    assert (listed["results"] if isinstance(listed, dict) else listed) == []
    started = bob_api.post(f"/api/workflows/{workflow.pk}/backtests/", request_body(strategy), format="json")
    assert started.status_code == 404
    assert Backtest.objects.get(pk=backtest.pk).cancel_requested is False


def test_a_backtest_cancelled_half_way_keeps_what_it_computed_and_says_so(alice, alice_api, monkeypatch):
    backtest = new_backtest(alice, start=date(2024, 3, 4), end=date(2024, 3, 8))
    run = BacktestRun(backtest)
    report = run._report_progress

    def cancel_after_two(done, point):
        report(done, point)
        if done == 2:
            assert alice_api.delete(f"/api/backtests/{backtest.pk}/").status_code == 200

    monkeypatch.setattr(run, "_report_progress", cancel_after_two)
    run.run()
    detail = alice_api.get(f"/api/backtests/{backtest.pk}/").json()
    assert detail["status"] == "cancelled"
    assert detail["results"]["partial"] is True and detail["results"]["points_done"] == 2
    assert "Cancelled after 2 of 5" in detail["results"]["note"]
    assert len(detail["results"]["equity_curve"]) == 2 and len(detail["decisions"]) == 2 * 2
