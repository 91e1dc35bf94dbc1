"""Celery tasks: a few lines each, the work is in the modules they call.

Messages carry ids only (JSON); the rows hold everything else. Every task here is safe to run
twice (late acks redeliver a task whose worker died). Domain code sends these tasks by name
through execution.dispatch and never imports this module, so this module imports them freely.
"""

import logging

from celery import shared_task
from celery.signals import beat_init
from django.conf import settings
from django.core.cache import cache
from django.dispatch import receiver

from broker.signals import gateway_reconnected
from execution import analytics, approvals, dispatch, maintenance, notifications, schedules
from execution.backtests import engine as backtests
from execution.cancel import terminate_if_still_running
from execution.leases import ExecutionHeld, recover_stranded_backtests, recover_stranded_executions
from execution.models import Notification
from execution.runner import run_execution

logger = logging.getLogger(__name__)


# The engine keeps an execution's time limits itself, on every pool (execution.engine); Celery's own, which
# only a prefork pool enforces, lie this far beyond them, for a run stuck where the engine cannot stop it.
RUN_BACKSTOP_SECONDS = 60


@shared_task(
    bind=True,
    name=dispatch.RUN_EXECUTION,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    soft_time_limit=settings.CELERY_TASK_TIME_LIMIT + RUN_BACKSTOP_SECONDS,
    time_limit=settings.CELERY_TASK_TIME_LIMIT + 2 * RUN_BACKSTOP_SECONDS,
)
def run_workflow_execution(self, execution_id: int, token: int | None = None) -> dict:
    """Run one segment of an execution (see execution.engine): a cancelled one is not started, a redelivered
    one is finished, never run anew; `token` marks the continuation of a suspension (see execution.leases).

    A delivery of an execution another worker is running comes back after that worker's lease.
    """
    try:
        return run_execution(execution_id, token)
    except ExecutionHeld as held:
        raise self.retry(countdown=held.retry_in, exc=held) from held


@shared_task(bind=True, name=dispatch.RUN_BACKTEST, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def run_backtest(self, backtest_id: int) -> dict:
    """Run a backtest to its end (see execution.backtests.engine): a finished one is left as it is, one whose
    worker died goes on after its last stored point, one another worker runs comes back after that lease."""
    try:
        backtest = backtests.run_backtest(backtest_id)
    except ExecutionHeld as held:
        raise self.retry(countdown=held.retry_in, exc=held) from held
    return {"backtest_id": backtest.pk, "status": backtest.status}


@shared_task(name="execution.run_scheduled_workflow", acks_late=True)
def run_scheduled_workflow(schedule_id: int) -> dict:
    """Beat's entry for one Schedule: create and enqueue its execution unless the rules say skip."""
    return schedules.schedule_fire(schedule_id)


@shared_task(name=dispatch.TERMINATE_CANCELLED_EXECUTION)
def terminate_cancelled_execution(execution_id: int, grace_seconds: int | None = None) -> str:
    """The fallback of a cancel: terminate a run that did not stop within the grace period."""
    return terminate_if_still_running(execution_id, grace_seconds)


@shared_task(name="execution.recover_stranded_executions")
def recover_stranded_executions_task() -> dict:
    """Send again the executions and backtests that no queue or worker holds any more (a Redis crash, a lost
    worker)."""
    return {"executions": recover_stranded_executions(), "backtests": recover_stranded_backtests()}


@shared_task(name="execution.prune_old_executions")
def prune_old_executions() -> dict:
    return maintenance.prune_executions()


@shared_task(name="execution.poll_orders_and_notify")
def poll_orders_and_notify() -> dict:
    """Refresh open orders from the broker; owners hear of fills and rejections."""
    return notifications.poll_orders_and_notify()


@shared_task(name=dispatch.RECONCILE_AND_NOTIFY)
def reconcile_and_notify() -> dict:
    return notifications.reconcile_and_notify().as_dict()


@shared_task(name="execution.check_risk_and_notify")
def check_risk_and_notify() -> int:
    return notifications.check_risk_and_notify()


@shared_task(name="execution.deliver_pending_notifications")
def deliver_pending_notifications() -> int:
    return notifications.deliver_pending_notifications()


@shared_task(name="execution.aggregate_recent_workflow_metrics")
def aggregate_recent_workflow_metrics() -> list[dict]:
    """The last 7 finished days (UTC) per workflow into WorkflowMetrics: trades close days after their run."""
    return analytics.aggregate_recent_workflow_metrics(7)


@shared_task(name=dispatch.DELIVER_NOTIFICATION, acks_late=True)
def deliver_notification_task(notification_id: int) -> dict:
    """Send one notification's pending email and webhook deliveries (retried inside, each attempt logged)."""
    notification = Notification.objects.filter(pk=notification_id).select_related("owner").first()
    if notification is None:
        return {"notification_id": notification_id, "deliveries": {}}
    deliveries = notifications.deliver_notification(notification)
    return {"notification_id": notification_id, "deliveries": {d.channel: d.status for d in deliveries}}


@shared_task(name=dispatch.EXPIRE_APPROVAL, acks_late=True)
def expire_approval(approval_id: int) -> bool:
    """At an approval's deadline (a countdown set when the run parked): expire it if nobody answered."""
    return approvals.expire_if_overdue(approval_id)


@shared_task(name="execution.expire_overdue_approvals")
def expire_overdue_approvals() -> int:
    """The periodic sweep (execution.maintenance): expire every pending approval past its deadline."""
    return approvals.expire_overdue_approvals()


# Every worker process has its own broker connection, and they all reconnect when the gateway comes
# back: one reconciliation per this many seconds is enough.
RECONCILE_AFTER_RECONNECT_SECONDS = 60


@receiver(gateway_reconnected)
def reconcile_after_reconnect(sender, **kwargs):
    """Orders may have filled or been cancelled while the connection was down: reconcile soon after it is back."""
    if not cache.add("broker:reconcile-after-reconnect", 1, timeout=RECONCILE_AFTER_RECONNECT_SECONDS):
        return None
    return dispatch.send_reconciliation()


@beat_init.connect
def register_periodic_tasks(sender=None, **kwargs) -> None:
    """Beat registers the maintenance entries (idempotently) before it loads its schedule."""
    maintenance.setup_periodic_tasks()
