"""Cancelling an execution: queued and waiting ones never go on, running ones stop at the next step boundary.

A queued execution, one parked for approval and one suspended in a wait (the symbol delay, a
`wait` step, a retry's backoff; see execution.engine) is settled as cancelled at once, under the
row lock that a continuation's claim takes too (so exactly one of them wins), and its task or
continuation is revoked; the task also checks the row when it starts (a worker that missed the
revoke still does nothing, see execution.leases.claim). A running one gets the
cooperative cancel flag, which the engine reads between steps, between symbols and inside
waits; a step that is placing an order finishes doing so (order_submit confirms the order's
state at the broker). If the run has not stopped after settings.CANCEL_GRACE_SECONDS it is
terminated (revoke terminate=True), and what the dead run could not record is settled here:
its running steps are marked cancelled and an order it was submitting is either confirmed at
the broker or marked needs_reconciliation, so no order is ever left in doubt.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from broker.adapters import BrokerError
from broker.models import Order
from broker.orders import order_refresh
from execution import dispatch, leases, progress
from execution.models import StepRun, WorkflowExecution

logger = logging.getLogger(__name__)

Status = WorkflowExecution.Status
# Waiting for a person or in the queue: no worker is running it, so the cancel is final at once.
NOT_RUNNING = (Status.PENDING, Status.AWAITING_APPROVAL)
IN_DOUBT_MESSAGE = (
    "Execution cancelled while this order was being submitted; whether the broker received it is not "
    "known yet, so it needs reconciliation"
)


class CancelConflict(Exception):
    """The execution has already ended; there is nothing to cancel."""


def execution_cancel(execution: WorkflowExecution) -> WorkflowExecution:
    """Cancel `execution` (see the module doc); raises CancelConflict when it has already finished."""
    now = timezone.now()
    with transaction.atomic():
        row = WorkflowExecution.objects.select_for_update().get(pk=execution.pk)
        if row.is_finished():
            raise CancelConflict(f"Execution {execution.pk} is already {row.status}; there is nothing to cancel.")
        waiting = row.status == Status.RUNNING and leases.suspended_point(row) is not None
        stopped = row.status in NOT_RUNNING or waiting
        if stopped:
            row.status, row.completed_at, row.lease_expires_at = Status.CANCELLED, now, None
            if waiting:
                row.error = ""  # as a run cancelled at a step boundary: the work done is kept, nothing failed
                row.progress = {key: value for key, value in row.progress.items() if key != leases.PARKED}
                row.progress["current_symbol"] = ""
                _end_waits_cancelled(row, now)
            else:
                row.error = "Cancelled before it ran"
        row.cancel_requested = True
        row.save(update_fields=["status", "completed_at", "lease_expires_at", "error", "progress", "cancel_requested"])
    execution.refresh_from_db()
    if stopped:
        if execution.task_id:
            dispatch.revoke(execution.task_id)
        logger.info("Execution %s cancelled while it did not run (task %s revoked)", execution.pk, execution.task_id)
        progress.execution_status(execution)
        return execution
    grace = settings.CANCEL_GRACE_SECONDS
    dispatch.send_cancel_fallback(execution.pk, grace)
    logger.info("Execution %s: cancel requested; it stops at the next step boundary", execution.pk)
    progress.notify_owner(execution, "info", f"Execution {execution.pk}: cancel requested, stopping at the next step")
    return execution


def _end_waits_cancelled(execution: WorkflowExecution, now) -> None:
    """A `wait` step in progress when its run was cancelled ends as the engine ends it: completed, cancelled."""
    for step_run in StepRun.objects.filter(execution=execution, status=StepRun.Status.RUNNING):
        waited = max(0.0, (now - step_run.started_at).total_seconds()) if step_run.started_at else 0.0
        step_run.status, step_run.finished_at, step_run.duration_ms = StepRun.Status.COMPLETED, now, int(waited * 1000)
        step_run.output = {**step_run.output, "waited_seconds": round(waited, 3), "cancelled": True}
        step_run.save(update_fields=["status", "finished_at", "duration_ms", "output"])


def terminate_if_still_running(execution_id: int, grace_seconds: int | None = None) -> str:
    """After the grace period: terminate a cancelled run that is still going and settle what it left."""
    grace = settings.CANCEL_GRACE_SECONDS if grace_seconds is None else grace_seconds
    execution = WorkflowExecution.objects.filter(pk=execution_id).first()
    if execution is None or execution.is_finished() or not execution.cancel_requested:
        return "stopped"
    if execution.task_id:
        dispatch.revoke(execution.task_id, terminate=True)
    logger.warning(
        "Execution %s did not stop within %s s of its cancel; terminated task %s",
        execution.pk,
        grace,
        execution.task_id,
    )
    execution_abandon(execution, f"Cancelled; the run did not stop within {grace} s and was terminated")
    return "terminated"


def execution_abandon(execution: WorkflowExecution, error: str, status: str = Status.CANCELLED) -> WorkflowExecution:
    """Record as `status` (cancelled, or failed) a run whose worker is gone: partial results kept, no order
    left in doubt."""
    now = timezone.now()
    settle_stopped_steps(
        execution, error, StepRun.Status.CANCELLED if status == Status.CANCELLED else StepRun.Status.FAILED
    )
    WorkflowExecution.objects.filter(pk=execution.pk).exclude(status__in=WorkflowExecution.TERMINAL_STATUSES).update(
        status=status, error=error, completed_at=now, lease_expires_at=None
    )
    execution.refresh_from_db()
    progress.execution_status(execution)
    return execution


def settle_stopped_steps(execution: WorkflowExecution, error: str, step_status: str) -> None:
    """The steps of `execution` still running were stopped from outside: each is recorded `step_status` with
    `error`, and an order one was submitting is confirmed at the broker or marked for reconciliation."""
    for order in Order.objects.filter(execution=execution, status=Order.Status.PENDING, broker_order_id=""):
        settle_order_in_doubt(order)
    StepRun.objects.filter(execution=execution, status=StepRun.Status.RUNNING).update(
        status=step_status, error=f"Stopped while running: {error}", finished_at=timezone.now()
    )


def settle_order_in_doubt(order: Order) -> Order:
    """Ask the broker about an order a dead run was submitting; what it cannot confirm needs reconciliation."""
    try:
        order = order_refresh(order)
    except BrokerError as error:
        logger.warning("Order %s: the broker could not confirm it after a cancel: %s", order.idempotency_key, error)
    if order.broker_order_id or order.status != Order.Status.PENDING:
        logger.info("Order %s confirmed at the broker after a cancel: %s", order.idempotency_key, order.status)
        return order
    order.status = Order.Status.NEEDS_RECONCILIATION
    order.status_message = IN_DOUBT_MESSAGE
    order.save(update_fields=["status", "status_message", "updated_at"])
    StepRun.objects.filter(
        execution_id=order.execution_id, step_type="place_order", status=StepRun.Status.RUNNING
    ).update(output={"order_id": order.pk, "status": order.status, "message": "submitted, needs reconciliation"})
    return order
