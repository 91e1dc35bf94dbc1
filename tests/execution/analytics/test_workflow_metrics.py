"""Daily WorkflowMetrics rows and a workflow's metrics over a range (stored days plus today live)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from execution.analytics import aggregate_workflow_metrics, workflow_metrics
from execution.models import WorkflowMetrics

from .conftest import seed_execution

pytestmark = pytest.mark.django_db


@pytest.fixture
def yesterday():
    return timezone.now().date() - timedelta(days=1)


def seed_yesterday(workflow, strategy, aapl, day):
    seed_execution(workflow, day=day, seconds=30, strategy=strategy, decision="buy", r="2.5", order=True,
                   trade_pnl="12", instrument=aapl)  # fmt: skip
    seed_execution(workflow, day=day, seconds=90, strategy=strategy, decision="sell", r="1.5", order=True,
                   trade_pnl="-4", instrument=aapl)  # fmt: skip
    seed_execution(workflow, day=day, status="failed", seconds=60, decision="hold", instrument=aapl)


def test_it_writes_one_daily_row_per_workflow_with_counts_and_sums(workflow, strategy, aapl, yesterday):
    seed_yesterday(workflow, strategy, aapl, yesterday)

    assert aggregate_workflow_metrics(yesterday) == {"date": yesterday.isoformat(), "workflows": 1}

    row = WorkflowMetrics.objects.get(workflow=workflow, date=yesterday)
    day = row.metrics["all"]
    assert (day["total_executions"], day["successes"], day["failures"]) == (3, 2, 1)
    assert (day["decisions_buy"], day["decisions_sell"], day["decisions_hold"]) == (1, 1, 1)
    assert (day["orders_placed"], day["trades_closed"], day["trades_won"]) == (2, 2, 1)
    assert day["duration_seconds_total"] == "180.0" and day["planned_r_total"] == "4.000000"
    assert row.metrics["by_strategy"][str(strategy.pk)]["total_executions"] == 2


def test_aggregating_a_day_again_replaces_its_row(workflow, strategy, aapl, yesterday):
    seed_yesterday(workflow, strategy, aapl, yesterday)
    aggregate_workflow_metrics(yesterday)
    seed_execution(workflow, day=yesterday)

    aggregate_workflow_metrics(yesterday)

    assert WorkflowMetrics.objects.get(workflow=workflow, date=yesterday).metrics["all"]["total_executions"] == 4


def test_metrics_add_the_stored_days_and_todays_live_runs(workflow, strategy, aapl, yesterday):
    seed_yesterday(workflow, strategy, aapl, yesterday)
    aggregate_workflow_metrics(yesterday)
    seed_execution(workflow, day=timezone.now().date(), seconds=120, decision="buy", r="3", instrument=aapl)

    metrics = workflow_metrics(workflow)

    assert metrics["total_executions"] == 4 and metrics["success_rate"] == 75.0
    assert metrics["average_duration_seconds"] == 75.0  # (30 + 90 + 60 + 120) / 4
    assert metrics["decisions"] == {"BUY": 2, "SELL": 1, "HOLD": 1}
    assert metrics["orders_placed"] == 2 and metrics["average_r"] == 2.3333
    assert (metrics["trades_closed"], metrics["win_rate"]) == (2, 50.0)
    assert [day["date"] for day in metrics["days"]] == [yesterday.isoformat(), timezone.now().date().isoformat()]


def test_a_day_never_aggregated_is_computed_live(workflow, aapl, yesterday):
    seed_execution(workflow, day=yesterday - timedelta(days=3), status="failed")

    metrics = workflow_metrics(workflow)

    assert (metrics["total_executions"], metrics["failures"], metrics["success_rate"]) == (1, 1, 0.0)


def test_metrics_filter_by_date_range_and_strategy(workflow, strategy, aapl, yesterday):
    seed_yesterday(workflow, strategy, aapl, yesterday)
    aggregate_workflow_metrics(yesterday)
    seed_execution(workflow, day=yesterday - timedelta(days=10))

    in_range = workflow_metrics(workflow, since=yesterday - timedelta(days=2), until=yesterday)
    of_strategy = workflow_metrics(workflow, strategy=strategy)

    assert in_range["total_executions"] == 3
    assert (of_strategy["total_executions"], of_strategy["failures"], of_strategy["win_rate"]) == (2, 0, 50.0)


def test_a_workflow_without_runs_has_empty_metrics(workflow):
    metrics = workflow_metrics(workflow)

    assert metrics["total_executions"] == 0 and metrics["success_rate"] is None and metrics["days"] == []
