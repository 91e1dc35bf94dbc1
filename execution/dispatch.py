"""Sending Celery tasks: the one module that knows the tasks' names.

Domain code (the engine, services, approvals, cancel, leases, notifications, schedules) sends
work through these functions and never imports `execution/tasks.py`; the tasks import the domain
code. So the import graph of `execution/` has no circles, and a task can move or be renamed here
in one place. Messages carry ids only (JSON); the rows hold everything else.
"""

import datetime

from celery import current_app

RUN_EXECUTION = "execution.run_workflow_execution"
TERMINATE_CANCELLED_EXECUTION = "execution.terminate_cancelled_execution"
EXPIRE_APPROVAL = "execution.expire_approval"
DELIVER_NOTIFICATION = "execution.deliver_notification"
RECONCILE_AND_NOTIFY = "execution.reconcile_and_notify"
HIGH_QUEUE = "high"


def send_execution_run(
    execution_id: int, *, queue: str, task_id: str, token: int | None = None, eta: datetime.datetime | None = None
) -> None:
    """Run an execution: its first delivery (no token), or the continuation of a suspension (see execution.leases).

    A continuation carries `token`, the attempt at which the run suspended, and is due at `eta`.
    """
    args = [execution_id] if token is None else [execution_id, token]
    current_app.send_task(RUN_EXECUTION, args=args, queue=queue, task_id=task_id, eta=eta)


def send_cancel_fallback(execution_id: int, grace_seconds: int) -> None:
    current_app.send_task(
        TERMINATE_CANCELLED_EXECUTION, args=[execution_id, grace_seconds], countdown=grace_seconds, queue=HIGH_QUEUE
    )


def send_approval_expiry(approval_id: int, countdown: float) -> None:
    current_app.send_task(EXPIRE_APPROVAL, args=[approval_id], countdown=countdown, queue=HIGH_QUEUE)


def send_notification_delivery(notification_id: int) -> None:
    current_app.send_task(DELIVER_NOTIFICATION, args=[notification_id])


def send_reconciliation():
    return current_app.send_task(RECONCILE_AND_NOTIFY, queue="normal")


def revoke(task_id: str, *, terminate: bool = False) -> None:
    """Tell the workers not to run (or, with `terminate`, to kill the process running) task `task_id`."""
    if terminate:
        current_app.control.revoke(task_id, terminate=True, signal="SIGTERM")
    else:
        current_app.control.revoke(task_id)
