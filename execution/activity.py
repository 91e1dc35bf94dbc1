"""What the analytics page charts: run totals, decisions by type, executions per day with their
success rate, and the workflow comparison as a table."""

from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Avg, Count, F, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from execution.models import Decision, WorkflowExecution

Status = WorkflowExecution.Status
PERCENT = Decimal("0.1")


def percent_of(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) * 100 / whole).quantize(PERCENT, ROUND_HALF_UP) if whole else None


def success_rate(completed: int, failed: int) -> Decimal | None:
    """Completed runs as a percentage of finished ones (cancelled runs count for neither)."""
    return percent_of(completed, completed + failed)


def execution_totals(executions: QuerySet) -> dict:
    """Runs, outcomes, success rate and the average duration of completed runs."""
    totals = executions.aggregate(
        total=Count("id"),
        completed=Count("id", filter=Q(status=Status.COMPLETED)),
        failed=Count("id", filter=Q(status=Status.FAILED)),
        average_duration=Avg(
            F("completed_at") - F("started_at"), filter=Q(status=Status.COMPLETED, started_at__isnull=False)
        ),
    )
    duration = totals.pop("average_duration")
    return {
        **totals,
        "success_rate": success_rate(totals["completed"], totals["failed"]),
        "average_seconds": round(duration.total_seconds()) if duration is not None else None,
    }


def decision_breakdown(decisions: QuerySet) -> dict:
    """Decisions by type, and how many risk validation approved or rejected."""
    return decisions.aggregate(
        total=Count("id"),
        buys=Count("id", filter=Q(type=Decision.Type.BUY)),
        sells=Count("id", filter=Q(type=Decision.Type.SELL)),
        holds=Count("id", filter=Q(type=Decision.Type.HOLD)),
        approved=Count("id", filter=Q(status__in=[Decision.Status.APPROVED, Decision.Status.EXECUTED])),
        rejected=Count("id", filter=Q(status=Decision.Status.REJECTED)),
    )


def executions_by_day(executions: QuerySet, *, days: int, today: date | None = None) -> list[dict]:
    """One row per UTC day of the last `days` (today included, quiet days as zeros), oldest first:
    completed, failed and other (pending, running, awaiting approval, cancelled) runs and the success rate."""
    today = today or timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    counts = {
        row["day"]: row
        for row in executions.filter(created_at__date__gte=first)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(
            total=Count("id"),
            completed=Count("id", filter=Q(status=Status.COMPLETED)),
            failed=Count("id", filter=Q(status=Status.FAILED)),
        )
        .order_by()
    }
    series = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = counts.get(day, {"total": 0, "completed": 0, "failed": 0})
        series.append(
            {
                "date": day.isoformat(),
                "completed": row["completed"],
                "failed": row["failed"],
                "other": row["total"] - row["completed"] - row["failed"],
                "success_rate": success_rate(row["completed"], row["failed"]),
            }
        )
    return series


@dataclass(frozen=True)
class ComparedMetric:
    key: str  # a figure of execution.analytics.compare_workflows
    label: str
    unit: str = ""


COMPARED_METRICS = (
    ComparedMetric("total_executions", "Runs"),
    ComparedMetric("success_rate", "Success rate", "%"),
    ComparedMetric("failures", "Failed runs"),
    ComparedMetric("average_duration_seconds", "Average run", " s"),
    ComparedMetric("orders_placed", "Orders placed"),
    ComparedMetric("win_rate", "Win rate", "%"),
    ComparedMetric("average_r", "Average R planned"),
)


def comparison_rows(workflows, comparison: dict) -> list[dict]:
    """compare_workflows' figures as table rows of cells, in the order of `workflows`, each metric's
    best value marked where some workflow falls short of it."""
    by_id = {row["workflow"]: row for row in comparison["workflows"]}
    # A value every workflow shares beats nobody: only a strict best is marked.
    contested = {metric for metric, holders in comparison["best"].items() if len(holders) < len(by_id)}
    return [
        {
            "workflow": workflow,
            "cells": [
                {
                    "metric": metric,
                    "value": by_id[workflow.pk][metric.key],
                    "best": metric.key in contested and metric.key in by_id[workflow.pk]["best"],
                }
                for metric in COMPARED_METRICS
            ],
        }
        for workflow in workflows
    ]
