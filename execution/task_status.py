"""What the task API and the Task Queue page say about Celery tasks.

A queued or running task is described from its execution: the row knows things the result
backend does not (a step waiting to be retried, a cancel), so the Celery state shown is derived
from it: PENDING, STARTED, RETRY. Finished tasks (the history) are read from the result store,
django-celery-results' TaskResult rows in the database, which survive restarts of Redis and the
workers until CELERY_RESULT_EXPIRES prunes them.
"""

import json

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django_celery_results.models import TaskResult

from execution.models import StepRun, WorkflowExecution

Status = WorkflowExecution.Status
CELERY_STATES = {
    Status.PENDING: "PENDING",
    Status.RUNNING: "STARTED",
    Status.AWAITING_APPROVAL: "STARTED",
    Status.COMPLETED: "SUCCESS",
    Status.FAILED: "FAILURE",
    Status.CANCELLED: "REVOKED",
}
ACTIVE_STATUSES = (Status.PENDING, Status.RUNNING, Status.AWAITING_APPROVAL)
FINISHED_STATES = ("SUCCESS", "FAILURE", "REVOKED")


def with_retrying(executions: QuerySet) -> QuerySet:
    """The executions with `retrying` worked out in the same query (a list shows many; see is_retrying)."""
    latest_step = StepRun.objects.filter(execution=OuterRef(OuterRef("pk"))).order_by("-id").values("pk")[:1]
    waiting = StepRun.objects.filter(pk=Subquery(latest_step), status=StepRun.Status.FAILED, output__has_key="retry_in")
    return executions.annotate(retrying=Exists(waiting))


def is_retrying(execution: WorkflowExecution) -> bool:
    """A running execution whose latest step attempt failed and is waiting for its retry."""
    if hasattr(execution, "retrying"):  # read with with_retrying
        return execution.retrying
    latest = StepRun.objects.filter(execution=execution).order_by("-id").only("status", "output").first()
    return latest is not None and latest.status == StepRun.Status.FAILED and "retry_in" in (latest.output or {})


def task_state(execution: WorkflowExecution) -> str:
    if execution.status == Status.RUNNING and is_retrying(execution):
        return "RETRY"
    return CELERY_STATES[execution.status]


def task_info(execution: WorkflowExecution) -> dict:
    """The task resource (DESIGN §10): task_id, status, progress, result, error, plus the execution it runs."""
    progress = execution.progress or {}
    return {
        "task_id": execution.task_id,
        "status": task_state(execution),
        "execution_id": execution.pk,
        "execution_status": execution.status,
        "priority": execution.priority,
        "strategy": execution.strategy_id,
        "workflow": execution.workflow_id,
        "progress": {
            "current_step": progress.get("current_step", 0),
            "total_steps": progress.get("total_steps", 0),
            "current_symbol": progress.get("current_symbol", ""),
            "completed_symbols": progress.get("completed_symbols", 0),
        },
        "result": execution.results if execution.is_finished() else None,
        "error": execution.error,
        "created_at": execution.created_at,
        "started_at": execution.started_at,
        "completed_at": execution.completed_at,
    }


def task_history(executions: QuerySet, *, every_task: bool, state: str = "") -> QuerySet:
    """Finished TaskResult rows, newest first: those of `executions`' tasks, or every task (staff, maintenance too)."""
    results = TaskResult.objects.filter(status__in=[state] if state else FINISHED_STATES).order_by("-date_done", "-id")
    if not every_task:
        results = results.filter(task_id__in=executions.exclude(task_id="").values("task_id"))
    return results


def stored_result(result: TaskResult):
    """The task's return value (or failure details) as the backend stored it (JSON text)."""
    try:
        return json.loads(result.result) if result.result else None
    except ValueError:
        return result.result


def history_infos(results) -> list[dict]:
    """The task resource of each finished TaskResult, with its execution's fields when it ran one."""
    results = list(results)
    executions = {
        execution.task_id: execution
        for execution in WorkflowExecution.objects.filter(task_id__in=[result.task_id for result in results])
    }
    return [history_info(result, executions.get(result.task_id)) for result in results]


def history_info(result: TaskResult, execution: WorkflowExecution | None) -> dict:
    progress = (execution.progress if execution else None) or {}
    return {
        "task_id": result.task_id,
        "task_name": result.task_name or "",
        "worker": result.worker or "",
        "status": result.status,
        "execution_id": execution.pk if execution else None,
        "execution_status": execution.status if execution else None,
        "priority": execution.priority if execution else None,
        "strategy": execution.strategy_id if execution else None,
        "workflow": execution.workflow_id if execution else None,
        "progress": {
            "current_step": progress.get("current_step", 0),
            "total_steps": progress.get("total_steps", 0),
            "current_symbol": progress.get("current_symbol", ""),
            "completed_symbols": progress.get("completed_symbols", 0),
        },
        "result": stored_result(result),
        "error": result.traceback or "",
        "created_at": result.date_created,
        "started_at": execution.started_at if execution else None,
        "completed_at": result.date_done,
    }
