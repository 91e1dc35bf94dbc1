"""The task queue dashboard and the schedules page, with the partials their scripts re-read.

Thin views: figures from execution.queue_metrics, tasks from execution.task_status, schedules
and their next runs from execution.schedules. Changes go through the task and schedule APIs.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from execution.queue_metrics import queue_metrics
from execution.schedules import describe_cron, schedule_next_runs
from execution.task_status import ACTIVE_STATUSES, history_infos, task_history, task_info, with_retrying
from tradingweb import selectors
from tradingweb.access import sees_everything

PRIORITY_ORDER = settings.CELERY_TASK_QUEUES_BY_PRIORITY
HISTORY_ROWS = 20


def task_lanes(user) -> list[dict]:
    """The user's queued and running tasks per priority lane, oldest first (the order workers take them)."""
    executions = with_retrying(selectors.executions_for(user).filter(status__in=ACTIVE_STATUSES).order_by("created_at"))
    lanes = {priority: [] for priority in PRIORITY_ORDER}
    for execution in executions:
        lanes[execution.priority].append({"execution": execution, "task": task_info(execution)})
    return [{"priority": priority, "rows": rows} for priority, rows in lanes.items()]


def recent_history(user) -> list[dict]:
    """The latest finished tasks from the result store: the user's executions' (staff: every task)."""
    results = task_history(selectors.executions_for(user), every_task=sees_everything(user))[:HISTORY_ROWS]
    return history_infos(results)


def queue_context(user) -> dict:
    return {
        "lanes": task_lanes(user),
        "history": recent_history(user),
        "result_expires_hours": settings.CELERY_RESULT_EXPIRES // 3600,
    }


@login_required
@require_GET
def tasks(request):
    return render(request, "execution/tasks.html", queue_context(request.user))


@login_required
@require_GET
def task_lanes_partial(request):
    """The lanes and the history, re-read when the monitor socket says a run changed."""
    return render(request, "execution/partials/task_lanes.html", queue_context(request.user))


@login_required
@require_GET
def task_metrics_partial(request):
    """The queue figures (polled every few seconds: worker pings are cached, queue lengths are cheap)."""
    return render(request, "execution/partials/task_metrics.html", {"metrics": queue_metrics(request.user)})


def schedule_rows(user) -> list[dict]:
    rows = []
    for schedule in selectors.schedules_for(user).order_by("created_at"):
        runs = schedule_next_runs(schedule, 1)
        cron = describe_cron(schedule.cron_expression)
        rows.append({"schedule": schedule, "next_run": runs[0] if runs else None, "cron": cron})
    return rows


def schedule_form_options(user) -> dict:
    """What the schedule editor offers: the workflows that can run and the active strategies."""
    workflows = selectors.workflows_for(user).filter(current_version__isnull=False).order_by("name")
    strategies = selectors.strategies_for(user).filter(active=True).order_by("name")
    return {
        "workflows": [{"id": workflow.pk, "name": workflow.name} for workflow in workflows],
        "strategies": [
            {"id": strategy.pk, "name": strategy.name, "workflow": strategy.workflow_id, "symbols": strategy.symbols}
            for strategy in strategies
        ],
        "priorities": PRIORITY_ORDER,
    }


@login_required
@require_GET
def schedules(request):
    return render(
        request,
        "execution/schedules.html",
        {"rows": schedule_rows(request.user), "options": schedule_form_options(request.user)},
    )


@login_required
@require_GET
def schedule_rows_partial(request):
    return render(request, "execution/partials/schedule_rows.html", {"rows": schedule_rows(request.user)})
