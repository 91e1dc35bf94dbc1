"""compare_workflows puts workflows side by side and marks the best value of each metric."""

import pytest
from django.utils import timezone

from execution.analytics import compare_workflows
from workflows.models import Workflow

from .conftest import seed_execution

pytestmark = pytest.mark.django_db


def test_it_marks_the_best_value_of_each_metric(alice, workflow, aapl):
    other = Workflow.objects.create(owner=alice, name="Swing")
    today = timezone.now().date()
    seed_execution(workflow, day=today, seconds=40, decision="buy", r="2", order=True, trade_pnl="5", instrument=aapl)
    seed_execution(workflow, day=today, status="failed", seconds=20)
    seed_execution(other, day=today, seconds=100, decision="buy", r="3", order=True, trade_pnl="-1", instrument=aapl)

    comparison = compare_workflows([workflow, other])

    first, second = comparison["workflows"]
    assert (first["workflow"], first["success_rate"], second["success_rate"]) == (workflow.pk, 50.0, 100.0)
    assert comparison["best"]["success_rate"] == [other.pk]
    assert comparison["best"]["average_duration_seconds"] == [workflow.pk]  # 30 s against 100 s
    assert comparison["best"]["average_r"] == [other.pk]
    assert comparison["best"]["win_rate"] == [workflow.pk]
    assert comparison["best"]["orders_placed"] == [workflow.pk, other.pk]  # a tie marks both
    assert "win_rate" in first["best"] and "success_rate" in second["best"]
