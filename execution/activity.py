"""What the analytics page charts: executions per day, their success rate, and which workflow
does best on each compared figure."""

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
    key: str
    label: str
    higher_is_better: bool | None  # None: a figure to read, not a contest
    unit: str = ""


COMPARED_METRICS = (
    ComparedMetric("runs", "Runs", None),
    ComparedMetric("success_rate", "Success rate", True, "%"),
    ComparedMetric("failed", "Failed runs", False),
    ComparedMetric("decisions", "Decisions", None),
    ComparedMetric("actionable_rate", "Buy/sell share", None, "%"),
    ComparedMetric("orders", "Orders placed", True),
)


def compare_workflows(workflows) -> dict:
    """The compared figures per workflow (annotated by tradingweb.selectors.workflow_comparison)
    and, per metric, the best value, so a page can highlight it. A contest needs two contenders."""
    rows = []
    for workflow in workflows:
        decisions = workflow.buys + workflow.sells + workflow.holds
        rows.append(
            {
                "workflow": workflow,
                "runs": workflow.runs,
                "success_rate": success_rate(workflow.completed, workflow.failed),
                "failed": workflow.failed,
                "decisions": decisions,
                "actionable_rate": percent_of(workflow.buys + workflow.sells, decisions),
                "orders": workflow.orders,
            }
        )
    best = {}
    for metric in COMPARED_METRICS:
        values = [row[metric.key] for row in rows if row[metric.key] is not None]
        if metric.higher_is_better is None or len(rows) < 2 or len(set(values)) < 2:
            continue
        best[metric.key] = max(values) if metric.higher_is_better else min(values)
    for row in rows:
        row["cells"] = [
            {"metric": metric, "value": row[metric.key], "best": best.get(metric.key, object()) == row[metric.key]}
            for metric in COMPARED_METRICS
        ]
    return {"metrics": COMPARED_METRICS, "rows": rows}
