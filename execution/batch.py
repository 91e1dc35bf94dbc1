"""Several executions from one request: all are valid and queued, or none is created."""

from django.core.exceptions import ValidationError
from django.db import transaction

from execution.models import WorkflowExecution
from execution.services import execution_create, execution_enqueue
from tradingweb.access import may_see_owned
from workflows.models import Strategy, Workflow


class BatchInvalid(Exception):
    """At least one request is invalid; `errors[i]` holds the field errors of request i ({} when fine)."""

    def __init__(self, errors: list[dict]):
        super().__init__(f"{sum(1 for error in errors if error)} of {len(errors)} execute requests are invalid")
        self.errors = errors


def _workflow_for(owner, workflow_id: int | None) -> Workflow | None:
    if workflow_id is None:
        return None
    workflow = Workflow.objects.filter(pk=workflow_id, deleted_at__isnull=True).first()
    if workflow is None or not may_see_owned(owner, workflow.owner_id):
        raise ValidationError({"workflow_id": "workflow not found"})
    return workflow


def execution_create_batch(*, owner, requests: list[dict], triggered_by: str) -> list[WorkflowExecution]:
    """One execution (its own task, on its priority's queue) per request; BatchInvalid if any is invalid.

    Each request: strategy_id, and optionally workflow_id (default: the strategy's), symbols,
    priority, dry_run, params — the fields of a single execute request.
    """
    errors: list[dict] = []
    executions: list[WorkflowExecution] = []
    with transaction.atomic():
        for request in requests:
            try:
                execution = execution_create(
                    owner=owner,
                    workflow=_workflow_for(owner, request.get("workflow_id")),
                    strategy=Strategy.objects.filter(pk=request["strategy_id"]).first(),
                    symbols=request.get("symbols"),
                    priority=request.get("priority", WorkflowExecution.Priority.NORMAL),
                    dry_run=request.get("dry_run", False),
                    params=request.get("params") or {},
                    triggered_by=triggered_by,
                )
            except ValidationError as exc:
                errors.append(exc.message_dict)
                continue
            executions.append(execution)
            errors.append({})
        if any(errors):
            raise BatchInvalid(errors)  # rolls back every execution created above
        for execution in executions:
            execution_enqueue(execution)  # sent once the transaction commits
    return executions
