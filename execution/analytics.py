"""Workflow analytics: daily WorkflowMetrics rows, one workflow's metrics over a range, comparisons.

A day's row keeps counters and sums (not averages), for the workflow as a whole and per
strategy, so any range and any strategy filter add up exactly. An execution belongs to the UTC
day it was created; its decisions, orders and the trades that came from its decisions count on
that day. Days not aggregated yet (today, or a day the periodic task missed) are computed
live from the executions, so a range always covers every run.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from broker.models import Order, Trade
from execution.models import Decision, WorkflowExecution, WorkflowMetrics
from workflows.models import Workflow

COUNTERS = (
    "total_executions",
    "successes",
    "failures",
    "cancelled",
    "duration_count",
    "decisions_buy",
    "decisions_sell",
    "decisions_hold",
    "orders_placed",
    "planned_r_count",
    "trades_closed",
    "trades_won",
)
# Sums kept as strings of exact decimals.
SUMS = ("duration_seconds_total", "planned_r_total")
NO_STRATEGY = "none"

# Which way is better for each compared metric.
BEST_IS = {
    "success_rate": max,
    "average_duration_seconds": min,
    "average_r": max,
    "win_rate": max,
    "orders_placed": max,
    "total_executions": max,
}


def _empty() -> dict:
    return {**dict.fromkeys(COUNTERS, 0), **dict.fromkeys(SUMS, "0")}


def _add(total: dict, part: dict) -> None:
    for name in COUNTERS:
        total[name] += part.get(name, 0)
    for name in SUMS:
        total[name] = str(Decimal(total[name]) + Decimal(part.get(name, "0")))


def _ratio(part, whole, places: str) -> float | None:
    if not whole:
        return None
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal(places)))


def summarize(counters: dict) -> dict:
    """The figures a person reads, from a day's (or a range's) counters."""
    finished = counters["successes"] + counters["failures"] + counters["cancelled"]
    success_rate = _ratio(counters["successes"] * 100, finished, "0.01")
    win_rate = _ratio(counters["trades_won"] * 100, counters["trades_closed"], "0.01")
    return {
        "total_executions": counters["total_executions"],
        "successes": counters["successes"],
        "failures": counters["failures"],
        "cancelled": counters["cancelled"],
        "success_rate": success_rate,
        "average_duration_seconds": _ratio(counters["duration_seconds_total"], counters["duration_count"], "0.001"),
        "decisions": {
            "BUY": counters["decisions_buy"],
            "SELL": counters["decisions_sell"],
            "HOLD": counters["decisions_hold"],
        },
        "orders_placed": counters["orders_placed"],
        "average_r": _ratio(counters["planned_r_total"], counters["planned_r_count"], "0.0001"),
        "trades_closed": counters["trades_closed"],
        "trades_won": counters["trades_won"],
        "win_rate": win_rate,
    }


# --- one day -------------------------------------------------------------------------------


def _per_execution(executions: QuerySet) -> dict[int, dict]:
    """Counters of each execution in `executions`, keyed by execution id."""
    counters: dict[int, dict] = {}
    for execution in executions.values("pk", "status", "started_at", "completed_at"):
        row = counters[execution["pk"]] = _empty()
        row["total_executions"] = 1
        status = execution["status"]
        row["successes"] = int(status == WorkflowExecution.Status.COMPLETED)
        row["failures"] = int(status == WorkflowExecution.Status.FAILED)
        row["cancelled"] = int(status == WorkflowExecution.Status.CANCELLED)
        if status in WorkflowExecution.TERMINAL_STATUSES and execution["started_at"] and execution["completed_at"]:
            seconds = (execution["completed_at"] - execution["started_at"]).total_seconds()
            row["duration_count"] = 1
            row["duration_seconds_total"] = str(Decimal(str(round(seconds, 3))))
    ids = list(counters)
    for decision in Decision.objects.filter(execution_id__in=ids).values("execution_id", "type", "r_coefficient"):
        row = counters[decision["execution_id"]]
        row[f"decisions_{decision['type']}"] += 1
        if decision["type"] != Decision.Type.HOLD and decision["r_coefficient"] is not None:
            row["planned_r_count"] += 1
            row["planned_r_total"] = str(Decimal(row["planned_r_total"]) + decision["r_coefficient"])
    placed = (
        Order.objects.filter(execution_id__in=ids, parent__isnull=True)
        .exclude(status=Order.Status.REJECTED)
        .values_list("execution_id", flat=True)
    )
    for execution_id in placed:
        counters[execution_id]["orders_placed"] += 1
    # A win is a positive realized P&L: the same in the instrument's currency as in the account's, so no rate is needed.
    trades = Trade.objects.filter(decision__execution_id__in=ids, exit_at__isnull=False)
    for execution_id, pnl in trades.values_list("decision__execution_id", "realized_pnl"):
        counters[execution_id]["trades_closed"] += 1
        counters[execution_id]["trades_won"] += int((pnl or 0) > 0)
    return counters


def day_metrics(day: datetime.date, workflows: QuerySet | None = None) -> dict[int, dict]:
    """Counters of the runs created on `day`: {workflow id: {"all": …, "by_strategy": {strategy id or "none": …}}}."""
    executions = WorkflowExecution.objects.filter(workflow__isnull=False, created_at__date=day)
    if workflows is not None:
        executions = executions.filter(workflow__in=workflows)
    per_execution = _per_execution(executions)
    metrics: dict[int, dict] = defaultdict(lambda: {"all": _empty(), "by_strategy": defaultdict(_empty)})
    for execution in executions.values("pk", "workflow_id", "strategy_id"):
        counters = per_execution[execution["pk"]]
        workflow = metrics[execution["workflow_id"]]
        _add(workflow["all"], counters)
        _add(workflow["by_strategy"][str(execution["strategy_id"] or NO_STRATEGY)], counters)
    return {workflow_id: {"all": m["all"], "by_strategy": dict(m["by_strategy"])} for workflow_id, m in metrics.items()}


def aggregate_workflow_metrics(date: datetime.date) -> dict:
    """Write (or rewrite) the WorkflowMetrics row of `date` for every workflow that ran that day."""
    metrics = day_metrics(date)
    for workflow_id, values in metrics.items():
        WorkflowMetrics.objects.update_or_create(workflow_id=workflow_id, date=date, defaults={"metrics": values})
    return {"date": date.isoformat(), "workflows": len(metrics)}


def aggregate_recent_workflow_metrics(days: int = 7) -> list[dict]:
    """Re-aggregate the last `days` finished days: trades of a day's runs often close days later."""
    today = timezone.now().date()
    return [aggregate_workflow_metrics(today - datetime.timedelta(days=back)) for back in range(days, 0, -1)]


# --- ranges and comparisons ----------------------------------------------------------------


def _daily_counters(workflow: Workflow, since, until) -> dict[datetime.date, dict]:
    """Every day with runs in [since, until]: its stored row, or (today, missing days) live figures."""
    today = timezone.now().date()
    stored_rows = WorkflowMetrics.objects.filter(workflow=workflow, date__lt=today)
    executions = WorkflowExecution.objects.filter(workflow=workflow)
    if since:
        stored_rows = stored_rows.filter(date__gte=since)
        executions = executions.filter(created_at__date__gte=since)
    if until:
        stored_rows = stored_rows.filter(date__lte=until)
        executions = executions.filter(created_at__date__lte=until)
    daily = {row.date: row.metrics for row in stored_rows}
    for day in executions.dates("created_at", "day"):
        if day not in daily:
            daily[day] = day_metrics(day, Workflow.objects.filter(pk=workflow.pk)).get(workflow.pk)
    return {day: metrics for day, metrics in sorted(daily.items()) if metrics}


def workflow_metrics(workflow: Workflow, since=None, until=None, strategy=None) -> dict:
    """A workflow's figures per day and in total over [since, until] (dates, inclusive), optionally of one strategy."""
    strategy_key = None if strategy is None else str(getattr(strategy, "pk", strategy))
    total = _empty()
    days = []
    for day, metrics in _daily_counters(workflow, since, until).items():
        counters = metrics["all"] if strategy_key is None else metrics["by_strategy"].get(strategy_key)
        if not counters:
            continue
        _add(total, counters)
        days.append({"date": day.isoformat(), **summarize(counters)})
    return {
        "workflow": workflow.pk,
        "name": workflow.name,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "strategy": None if strategy_key is None else int(strategy_key),
        **summarize(total),
        "days": days,
    }


def compare_workflows(workflows, since=None, until=None, strategy=None) -> dict:
    """The workflows' totals side by side, each metric's best value marked (`best` lists the workflows holding it)."""
    rows = [workflow_metrics(workflow, since, until, strategy) for workflow in workflows]
    best: dict[str, list[int]] = {}
    for metric, pick in BEST_IS.items():
        values = [row[metric] for row in rows if row[metric] is not None]
        if not values:
            continue
        winner = pick(values)
        best[metric] = [row["workflow"] for row in rows if row[metric] == winner]
    for row in rows:
        row.pop("days")
        row["best"] = sorted(metric for metric, holders in best.items() if row["workflow"] in holders)
    return {"workflows": rows, "best": best}
