"""The queue's own upkeep: pruning old executions and the beat entries that run the periodic jobs.

`setup_periodic_tasks()` registers (or updates) those entries in django-celery-beat's tables; it
is idempotent, and beat calls it at start (execution.tasks.register_periodic_tasks), so every run
mode gets them without a separate step.
"""

import datetime
import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from broker.models import Chart
from execution.models import StepRun, WorkflowExecution

logger = logging.getLogger(__name__)


def prune_executions(*, retention_days: int | None = None, now: datetime.datetime | None = None) -> dict:
    """Delete finished executions created more than `retention_days` (settings.EXECUTION_RETENTION_DAYS) ago.

    Their step runs, decisions, model calls and agent messages go with them; orders and trades
    stay (they are the account's history) with their link to the execution cleared. Charts as
    old go too, images included (see prune_charts).
    """
    days = settings.EXECUTION_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    old = WorkflowExecution.objects.filter(created_at__lt=cutoff, status__in=WorkflowExecution.TERMINAL_STATUSES)
    deleted_total, per_model = old.delete()
    counts = {label.split(".")[-1].lower(): count for label, count in per_model.items()}
    counts["chart"] = prune_charts(cutoff)
    deleted_total += counts["chart"]
    logger.info(
        "Pruned executions older than %d days (before %s): %s",
        days,
        cutoff.isoformat(),
        ", ".join(f"{count} {label}" for label, count in sorted(counts.items())) or "nothing",
    )
    return {"cutoff": cutoff.isoformat(), "deleted": counts, "total": deleted_total}


def prune_charts(cutoff: datetime.datetime) -> int:
    """Delete charts made before `cutoff` and their images in the storage (filesystem or S3).

    A chart a remaining execution drew is kept (chart_for reuses a fresh chart, so one may be a
    little older than the run that shows it). An image the storage fails to delete keeps its row,
    so the next cleanup tries again.
    """
    drawn_by_runs = StepRun.objects.filter(step_type="generate_chart", output__has_key="chart_id")
    drawn = set(drawn_by_runs.values_list("output__chart_id", flat=True))
    deleted = 0
    for chart in Chart.objects.filter(created_at__lt=cutoff).exclude(pk__in=drawn).iterator():
        try:
            if chart.image:
                chart.image.delete(save=False)
        except Exception:
            logger.exception(
                "Chart %s: its image %s could not be deleted; kept for the next cleanup", chart.pk, chart.image.name
            )
            continue
        chart.delete()
        deleted += 1
    return deleted


@dataclass(frozen=True)
class PeriodicEntry:
    name: str
    task: str
    queue: str
    description: str
    cron: str = ""  # "minute hour day_of_month month_of_year day_of_week", UTC
    every_seconds: int = 0


def periodic_entries() -> list[PeriodicEntry]:
    """Every fixed periodic job of the app (users' Schedules are separate rows, see execution.schedules)."""
    return [
        PeriodicEntry(
            name="execution: prune old executions",
            task="execution.prune_old_executions",
            queue="low",
            cron="30 3 * * *",
            description="Daily: delete finished executions and charts past EXECUTION_RETENTION_DAYS; log the counts.",
        ),
        PeriodicEntry(
            name="execution: recover stranded executions",
            task="execution.recover_stranded_executions",
            queue="high",
            every_seconds=settings.EXECUTION_RECOVERY_SECONDS,
            description="Every EXECUTION_RECOVERY_SECONDS: send again executions no queue or worker holds any more.",
        ),
        PeriodicEntry(
            name="broker: poll orders and notify",
            task="execution.poll_orders_and_notify",
            queue="high",
            every_seconds=60,
            description="Every minute: refresh open orders from the broker; tell owners of fills and rejections.",
        ),
        PeriodicEntry(
            name="execution: expire overdue approvals",
            task="execution.expire_overdue_approvals",
            queue="high",
            every_seconds=settings.APPROVAL_SWEEP_SECONDS,
            description="Every APPROVAL_SWEEP_SECONDS: expire pending approvals whose countdown task was lost.",
        ),
        PeriodicEntry(
            name="broker: check risk and notify",
            task="execution.check_risk_and_notify",
            queue="high",
            every_seconds=5 * 60,
            description="Every 5 minutes: exposure, loss streak and stop breach checks; alerts reach their owners.",
        ),
        PeriodicEntry(
            name="broker: reconcile and notify",
            task="execution.reconcile_and_notify",
            queue="normal",
            every_seconds=15 * 60,
            description="Every 15 minutes: reconcile positions and orders with the broker; report discrepancies.",
        ),
        PeriodicEntry(
            name="execution: deliver pending notifications",
            task="execution.deliver_pending_notifications",
            queue="normal",
            every_seconds=5 * 60,
            description="Every 5 minutes: send email and webhook deliveries left pending (the queue was down).",
        ),
        PeriodicEntry(
            name="execution: aggregate workflow metrics",
            task="execution.aggregate_recent_workflow_metrics",
            queue="low",
            cron="15 0 * * *",
            description="Daily: the last 7 days' per-workflow metrics into WorkflowMetrics (trades close days later).",
        ),
    ]


# Entries an earlier version registered; beat would keep running them, so setup removes them.
RETIRED_ENTRY_NAMES = (
    "broker: poll open orders",  # now "broker: poll orders and notify"
    "expire-overdue-approvals",  # installed from the former CELERY_BEAT_SCHEDULE
)


def crontab_for(cron: str) -> CrontabSchedule:
    """The (shared) CrontabSchedule row of a five-field UTC cron expression."""
    minute, hour, day_of_month, month_of_year, day_of_week = cron.split()
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone="UTC",
    )
    return schedule


def setup_periodic_tasks() -> list[str]:
    """Create or update the maintenance entries; returns their names."""
    for entry in periodic_entries():
        defaults = {
            "task": entry.task,
            "queue": entry.queue,
            "description": entry.description,
            "kwargs": json.dumps({}),
            "enabled": True,
            "crontab": None,
            "interval": None,
        }
        if entry.cron:
            defaults["crontab"] = crontab_for(entry.cron)
        else:
            defaults["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=entry.every_seconds, period=IntervalSchedule.SECONDS
            )
        task, created = PeriodicTask.objects.get_or_create(name=entry.name, defaults=defaults)
        if not created and any(getattr(task, field) != value for field, value in defaults.items()):
            for field, value in defaults.items():
                setattr(task, field, value)
            task.save()
    retired, _ = PeriodicTask.objects.filter(name__in=RETIRED_ENTRY_NAMES).delete()
    names = [entry.name for entry in periodic_entries()]
    logger.info("Periodic tasks registered: %s (%d retired removed)", ", ".join(names), retired)
    return names
