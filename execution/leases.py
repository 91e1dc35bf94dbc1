"""Who runs an execution, and finding the executions nobody runs any more.

An execution in the queue or on a worker holds a lease (`WorkflowExecution.lease_expires_at`):
enqueueing grants settings.EXECUTION_LEASE_SECONDS, and the worker running it claims it under a
row lock and renews the lease from a `LeaseKeeper` thread. The broker alone cannot promise that
every execution ends:

- kombu's Redis transport pops a message and records it as unacknowledged in two steps, so a
  Redis crash between them loses the message;
- a worker whose broker connection breaks drops the messages it had reserved, and they wait in
  Redis's unacknowledged set for the visibility timeout (hours);
- a worker killed by the hard time limit acknowledges its message, and nothing runs the rest.

`recover_stranded_executions` (a periodic task, every settings.EXECUTION_RECOVERY_SECONDS) takes
every execution whose lease ran out: a queued one is sent again unless its message still waits in
a queue; a running one lost its worker and is sent again, and the next worker takes it over
(its unfinished steps run again, see the engine). Sending twice is harmless: a delivery that
finds the execution finished returns, one that finds it running under a live lease retries after
the lease, and only one claim can win. A run interrupted settings.EXECUTION_MAX_INTERRUPTIONS times
fails instead of being taken over again, and a run that was stopping (cancelled, or past its
soft time limit) when its worker died is settled rather than resumed.
"""

import datetime
import logging
import threading
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from execution.models import WorkflowExecution
from execution.queue_metrics import waiting_task_ids

logger = logging.getLogger(__name__)

Status = WorkflowExecution.Status
# Statuses in which an expired lease means the execution may be stranded (a parked execution holds
# no lease: it waits for a person, and answering it enqueues it again).
WATCHED_STATUSES = (Status.PENDING, Status.RUNNING, Status.AWAITING_APPROVAL)


class ExecutionHeld(Exception):
    """Another worker runs this execution under a live lease; this delivery should come back later."""

    def __init__(self, execution_id: int, retry_in: float):
        super().__init__(f"Execution {execution_id} is running elsewhere; trying again in {retry_in:.0f} s")
        self.retry_in = retry_in


@dataclass(frozen=True)
class Claim:
    """What a delivery found: `run` it (this worker now holds the lease), or it is `finished`, or it
    must be `settled` with `status` and `error` because its run must not go on."""

    run: bool = False
    finished: bool = False
    settle_status: str = ""
    error: str = ""
    taken_over: bool = False  # the previous run's worker died while it ran


def lease_end(now: datetime.datetime | None = None) -> datetime.datetime:
    return (now or timezone.now()) + datetime.timedelta(seconds=settings.EXECUTION_LEASE_SECONDS)


def claim(execution: WorkflowExecution) -> Claim:
    """Take `execution` for this worker if nobody else runs it; updates the instance on success.

    Raises ExecutionHeld when another worker holds a live lease on it.
    """
    now = timezone.now()
    with transaction.atomic():
        row = (
            WorkflowExecution.objects.select_for_update()
            .only("status", "attempt", "interruptions", "lease_expires_at", "cancel_requested", "error")
            .get(pk=execution.pk)
        )
        if row.is_finished():
            execution.status = row.status
            return Claim(finished=True)
        if row.status == Status.RUNNING and row.lease_expires_at and row.lease_expires_at > now:
            raise ExecutionHeld(execution.pk, (row.lease_expires_at - now).total_seconds() + 1)
        taken_over = row.status == Status.RUNNING
        row.status = Status.RUNNING
        row.attempt += 1
        row.interruptions += taken_over
        row.lease_expires_at = lease_end(now)
        row.save(update_fields=["status", "attempt", "interruptions", "lease_expires_at"])
    execution.status, execution.attempt, execution.lease_expires_at = row.status, row.attempt, row.lease_expires_at
    execution.interruptions = row.interruptions
    if taken_over and row.cancel_requested:
        # Its run was stopping when the worker died: a soft time limit left its error, a cancel none.
        if row.error:
            return Claim(settle_status=Status.FAILED, error=row.error, taken_over=True)
        return Claim(
            settle_status=Status.CANCELLED, error="Cancelled; its worker was lost while it stopped", taken_over=True
        )
    if row.interruptions >= settings.EXECUTION_MAX_INTERRUPTIONS:
        return Claim(
            settle_status=Status.FAILED,
            error=f"Interrupted {row.interruptions} times (its worker was lost each time); not tried again",
            taken_over=taken_over,
        )
    return Claim(run=True, taken_over=taken_over)


class LeaseKeeper:
    """Renews a running execution's lease from a daemon thread until stopped.

    `lost` is set when another worker has taken the execution over (this run's lease had run out,
    e.g. the process was frozen): this run then stops at its next boundary and records nothing final.
    """

    def __init__(self, execution: WorkflowExecution):
        self.execution_id = execution.pk
        self.attempt = execution.attempt
        self.stopped = threading.Event()
        self.lost = threading.Event()
        self.thread = threading.Thread(target=self._renew_until_stopped, name=f"lease-{execution.pk}", daemon=True)

    def start(self) -> "LeaseKeeper":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def _renew_until_stopped(self) -> None:
        try:
            while not self.stopped.wait(settings.EXECUTION_LEASE_SECONDS / 4):
                try:
                    self._renew()
                except DatabaseError as error:
                    logger.warning("Execution %s: could not renew its lease: %s", self.execution_id, error)
                    connections.close_all()  # this thread's connection; the next renewal opens a new one
                if self.lost.is_set():
                    return
        finally:
            connections.close_all()

    def _renew(self) -> None:
        mine = WorkflowExecution.objects.filter(pk=self.execution_id, attempt=self.attempt)
        if mine.filter(status=Status.RUNNING).update(lease_expires_at=lease_end()):
            return
        # Not renewed: parked or ended (the run is stopping this keeper), or another worker's now.
        if WorkflowExecution.objects.filter(pk=self.execution_id).exclude(attempt=self.attempt).exists():
            logger.warning("Execution %s was taken over by another worker; this run stops", self.execution_id)
            self.lost.set()


# --- the recovery sweep -----------------------------------------------------------


def recover_stranded_executions(now: datetime.datetime | None = None) -> dict:
    """Send again every execution whose lease ran out and whose message waits in no queue (see the module doc).

    A queued execution still in a queue (behind a backlog) gets a new lease, so it is looked at again
    only after that; a running one keeps its expired lease, which is what lets the next worker take it over.
    """
    from execution.tasks import run_workflow_execution  # the tasks import the engine, which imports this module

    now = now or timezone.now()
    counts = {"resent": 0, "still_queued": 0, "unknown": 0}
    # Rows another sweep is handling right now are skipped, so two sweeps never send one execution twice.
    with transaction.atomic():
        expired = list(
            WorkflowExecution.objects.select_for_update(skip_locked=True)
            .filter(status__in=WATCHED_STATUSES, lease_expires_at__lt=now)
            .exclude(task_id="")
            .only("pk", "status", "priority", "task_id", "attempt")
        )
        if not expired:
            return counts
        queued = waiting_task_ids()
        for execution in expired:
            if queued is None:
                counts["unknown"] += 1
                continue
            if execution.task_id in queued:
                if execution.status != Status.RUNNING:
                    WorkflowExecution.objects.filter(pk=execution.pk).update(lease_expires_at=lease_end(now))
                counts["still_queued"] += 1
                continue
            logger.warning(
                "Execution %s (%s, attempt %s) is held by no queue or worker; sending task %s again",
                execution.pk, execution.status, execution.attempt, execution.task_id,
            )  # fmt: skip
            run_workflow_execution.apply_async(args=[execution.pk], queue=execution.priority, task_id=execution.task_id)
            counts["resent"] += 1
    if queued is None:
        logger.warning("The broker cannot list its queued messages; %s expired leases not checked", len(expired))
    return counts
