"""What the task API says about an execution's Celery task, read from the execution itself.

The execution row outlives the task's result (results expire after a day) and knows things the
result backend does not (a step waiting to be retried, a cancel), so the Celery state shown is
derived from it: PENDING, STARTED, RETRY, SUCCESS, FAILURE or REVOKED.
"""

from django.db.models import Exists, OuterRef, QuerySet, Subquery

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
