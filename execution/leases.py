"""Who runs an execution, its continuations, and finding the executions nobody runs any more.

An execution in the queue or on a worker holds a lease (`WorkflowExecution.lease_expires_at`):
enqueueing grants settings.EXECUTION_LEASE_SECONDS, and the worker running it claims it under a
row lock and holds it while the segment runs; one `LeaseRenewer` thread per worker process renews
every lease the process holds, in one UPDATE.

A run is a series of segments (see execution.engine). When it has to wait (the symbol delay, a
`wait` step, a retry's backoff, a person's approval) it `suspend`s: the resume point goes into
`execution.progress["parked"]` with a token (the attempt that suspended), the lease is stretched
to the wake time plus EXECUTION_LEASE_SECONDS, and a continuation, the run task with the token
and an ETA, is sent under the execution's one task id (so the task API, a revoke and the sweep
keep speaking of one task); the task then returns and the worker is free. (Approval parks without a
wake time and without a lease: answering it sends the continuation, see execution.approvals.)
Exactly once: a continuation's claim takes the resume point out of the row in the same locked
transaction that raises the attempt, so a duplicate or stale continuation (its token no longer
the row's attempt, or the point gone) runs nothing; the run's first message, redelivered because its
worker died after the run suspended, may claim a due point in the continuation's place (only one
of them wins); and a cancel racing with the claim either
settles the suspended run at once or finds it running and flags it (execution.cancel).

The broker alone cannot promise that every execution ends:

- kombu's Redis transport pops a message and records it as unacknowledged in two steps, so a
  Redis crash between them loses the message;
- a worker whose broker connection breaks drops the messages it had reserved (ETA messages of
  continuations included), and they wait in Redis's unacknowledged set for the visibility timeout;
- a worker killed by the hard time limit acknowledges its message, and nothing runs the rest.

`recover_stranded_executions` (a periodic task, every settings.EXECUTION_RECOVERY_SECONDS) takes
every execution whose lease ran out: a queued one is sent again unless its message still waits in
a queue; a suspended one is sent its continuation again (with its token); a running one lost its
worker and is sent again, and the next worker takes it over (its unfinished steps run again, see
the engine). Sending twice is harmless: a delivery that finds the execution finished returns, one
that finds it running under a live lease retries after the lease, a stale token runs nothing, and
only one claim can win. A run interrupted settings.EXECUTION_MAX_INTERRUPTIONS times fails instead
of being taken over again, and a run that was stopping (cancelled, or past its soft time limit)
when its worker died is settled rather than resumed.
"""

import datetime
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from execution import dispatch
from execution.models import Backtest, WorkflowExecution
from execution.queue_metrics import waiting_task_ids

logger = logging.getLogger(__name__)

Status = WorkflowExecution.Status
PARKED = "parked"  # the key of the resume point in execution.progress
# Statuses in which an expired lease means the execution may be stranded (a parked execution holds
# no lease: it waits for a person, and answering it sends its continuation).
WATCHED_STATUSES = (Status.PENDING, Status.RUNNING, Status.AWAITING_APPROVAL)


class ExecutionHeld(Exception):
    """Another worker runs this execution (or backtest) under a live lease (or its continuation is not due yet);
    this delivery should come back later."""

    def __init__(self, execution_id: int, retry_in: float, kind: str = "Execution"):
        super().__init__(f"{kind} {execution_id} is running elsewhere; trying again in {retry_in:.0f} s")
        self.retry_in = retry_in


@dataclass(frozen=True)
class Claim:
    """What a delivery found: `run` it (this worker now holds the lease; `resume` is where a continuation
    goes on), or it is `finished`, or `stale` (a duplicate continuation), or it must be `settled` with
    `status` and `error` because its run must not go on."""

    run: bool = False
    finished: bool = False
    stale: bool = False
    settle_status: str = ""
    error: str = ""
    taken_over: bool = False  # the previous run's worker died while it ran
    resume: dict | None = None
    resumed_status: str = ""  # the status the execution had while suspended


def lease_end(now: datetime.datetime | None = None) -> datetime.datetime:
    return (now or timezone.now()) + datetime.timedelta(seconds=settings.EXECUTION_LEASE_SECONDS)


def suspended_point(execution: WorkflowExecution) -> dict | None:
    """Where a suspended (or parked) execution continues, or None."""
    return (execution.progress or {}).get(PARKED)


def claim(execution: WorkflowExecution, token: int | None = None) -> Claim:
    """Take `execution` for this worker if nobody else runs it; updates the instance on success.

    `token` is a continuation's (None for the execution's first message). Raises ExecutionHeld when
    another worker holds a live lease on it, or when a continuation came before its wake time.
    """
    now = timezone.now()
    with transaction.atomic():
        row = (
            WorkflowExecution.objects.select_for_update()
            .only("status", "attempt", "interruptions", "lease_expires_at", "cancel_requested", "error", "progress")
            .get(pk=execution.pk)
        )
        if row.is_finished():
            execution.status = row.status
            return Claim(finished=True)
        point = suspended_point(row)
        if point is not None or token is not None:
            # A continuation of an earlier suspension, or one that lost the claim, is stale. The run's first
            # message redelivered (its worker died after the run suspended, holding the continuation) goes on
            # for it once due; a run parked for a person goes on only when answered.
            wake_at = point.get("wake_at") if point else None
            first_message_again = token is None and wake_at is not None
            if point is None or (point["token"] != token and not first_message_again):
                return Claim(stale=True)
            if wake_at and datetime.datetime.fromisoformat(wake_at) > now:
                raise ExecutionHeld(execution.pk, (datetime.datetime.fromisoformat(wake_at) - now).total_seconds())
            resumed_status = row.status
            row.progress = {key: value for key, value in row.progress.items() if key != PARKED}
            taken_over = False
        else:
            if row.status == Status.RUNNING and row.lease_expires_at and row.lease_expires_at > now:
                raise ExecutionHeld(execution.pk, (row.lease_expires_at - now).total_seconds() + 1)
            resumed_status = ""
            taken_over = row.status == Status.RUNNING
        row.status = Status.RUNNING
        row.attempt += 1
        row.interruptions += taken_over
        row.lease_expires_at = lease_end(now)
        row.save(update_fields=["status", "attempt", "interruptions", "lease_expires_at", "progress"])
    execution.status, execution.attempt, execution.lease_expires_at = row.status, row.attempt, row.lease_expires_at
    execution.interruptions, execution.progress = row.interruptions, row.progress
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
    return Claim(run=True, taken_over=taken_over, resume=point, resumed_status=resumed_status)


# --- suspending and continuing ------------------------------------------------------


def suspend(
    execution: WorkflowExecution,
    *,
    point: dict,
    wake_at: datetime.datetime | None,
    results: dict,
    progress_state: dict,
    status: str = Status.RUNNING,
) -> bool:
    """Leave the run at `point` until `wake_at` (None: until a person answers, see execution.approvals).

    Saves the point with its token, stretches the lease over the wait and, once committed, sends the
    continuation. False when nothing was saved: the run was cancelled, or another worker took it over.
    """
    token = execution.attempt
    parked = {**point, "token": token, "wake_at": wake_at.isoformat() if wake_at else None}
    lease = wake_at + datetime.timedelta(seconds=settings.EXECUTION_LEASE_SECONDS) if wake_at else None
    with transaction.atomic():
        saved = WorkflowExecution.objects.filter(
            pk=execution.pk, attempt=token, status=Status.RUNNING, cancel_requested=False
        ).update(status=status, progress={**progress_state, PARKED: parked}, results=results, lease_expires_at=lease)
        if saved and wake_at:
            transaction.on_commit(
                lambda: _send_continuation(
                    execution.pk, queue=execution.priority, task_id=execution.task_id, token=token, eta=wake_at
                )
            )
    if saved:
        execution.status, execution.progress, execution.results = status, {**progress_state, PARKED: parked}, results
        execution.lease_expires_at = lease
    return bool(saved)


def continue_now(execution: WorkflowExecution) -> None:
    """Send the continuation of a parked execution (its approval was answered) once the answer is committed."""
    row = WorkflowExecution.objects.get(pk=execution.pk)
    point = suspended_point(row)
    if point is None or row.is_finished():
        return
    lease = lease_end()  # the queue answers for it until then
    WorkflowExecution.objects.filter(pk=execution.pk).update(lease_expires_at=lease)
    execution.lease_expires_at = lease
    transaction.on_commit(
        lambda: _send_continuation(
            execution.pk, queue=row.priority, task_id=row.task_id, token=point["token"], owner_id=row.owner_id
        )
    )


def _send_continuation(execution_id: int, **message) -> None:
    """Send a continuation whose resume point and lease are committed already.

    The broker may be down (a Redis restart): the run then stays suspended, not failed, and once its
    lease runs out the recovery sweep sends the continuation again, with the same token.
    """
    try:
        dispatch.send_execution_run(execution_id, **message)
    except dispatch.BROKER_ERRORS as error:
        logger.warning(
            "Execution %s: its continuation could not be sent (%s); the recovery sweep sends it when its lease "
            "runs out", execution_id, error,
        )  # fmt: skip


# --- renewing the leases this process holds -------------------------------------------


@dataclass
class HeldLease:
    """One run's hold on its execution (or backtest: `model`); `lost` is set when another worker has taken
    it over (this run's lease had run out, e.g. the process was frozen): the run then stops at its next
    boundary and records nothing final."""

    execution_id: int
    attempt: int
    lost: threading.Event = field(default_factory=threading.Event)
    model: type[WorkflowExecution] | type[Backtest] = WorkflowExecution

    def release(self) -> None:
        LeaseRenewer.for_this_process().release(self)


class LeaseRenewer:
    """The one thread of a worker process that renews the leases of every execution the process runs.

    A threads pool runs many executions in one process; one renewal query for them all (one per model:
    executions and backtests), on a connection closed again until the next renewal, costs the database the
    same whatever the pool's size.
    """

    _lock = threading.Lock()
    _instance: "LeaseRenewer | None" = None

    def __init__(self):
        self.pid = os.getpid()
        self.held: dict[tuple[type, int], HeldLease] = {}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._renew_forever, name="lease-renewer", daemon=True)
        self.thread.start()

    @classmethod
    def for_this_process(cls) -> "LeaseRenewer":
        """The process's renewer, started on first use (a forked pool child starts its own)."""
        with cls._lock:
            if cls._instance is None or cls._instance.pid != os.getpid():
                cls._instance = LeaseRenewer()
            return cls._instance

    def hold(self, row: WorkflowExecution | Backtest) -> HeldLease:
        lease = HeldLease(row.pk, row.attempt, model=type(row))
        with self.lock:
            self.held[(lease.model, row.pk)] = lease
        return lease

    def release(self, lease: HeldLease) -> None:
        key = (lease.model, lease.execution_id)
        with self.lock:
            if self.held.get(key) is lease:
                del self.held[key]

    def _renew_forever(self) -> None:
        while True:
            time.sleep(settings.EXECUTION_LEASE_SECONDS / 4)
            try:
                self.renew()
            except DatabaseError as error:
                logger.warning("Could not renew the leases of this process: %s", error)
            finally:
                connections.close_all()  # this thread's connection: it holds none between renewals

    def renew(self) -> None:
        """Stretch every held lease (one UPDATE per model); a lease whose row another worker claimed is lost."""
        with self.lock:
            leases = list(self.held.values())
        for model in {lease.model for lease in leases}:
            self._renew(model, [lease for lease in leases if lease.model is model])

    @staticmethod
    def _renew(model: type[WorkflowExecution] | type[Backtest], leases: list[HeldLease]) -> None:
        mine = reduce(or_, (Q(pk=lease.execution_id, attempt=lease.attempt) for lease in leases))
        # A suspended execution's lease already covers its wait (see suspend); a backtest never suspends.
        running = model.objects.filter(mine, status=Status.RUNNING).exclude(progress__has_key=PARKED)
        running.update(lease_expires_at=lease_end())
        attempts = dict(
            model.objects.filter(pk__in=[lease.execution_id for lease in leases]).values_list("pk", "attempt")
        )
        for lease in leases:
            if attempts.get(lease.execution_id, lease.attempt) != lease.attempt and not lease.lost.is_set():
                logger.warning(
                    "%s %s was taken over by another worker; this run stops", lease.model.__name__, lease.execution_id
                )
                lease.lost.set()


def hold_lease(row: WorkflowExecution | Backtest) -> HeldLease:
    """Keep the lease of `row` (an execution or a backtest) renewed while this process runs it; `release()`
    when the segment ends."""
    return LeaseRenewer.for_this_process().hold(row)


# --- the recovery sweep -----------------------------------------------------------


def recover_stranded_executions(now: datetime.datetime | None = None) -> dict:
    """Send again every execution whose lease ran out and whose message waits in no queue (see the module doc).

    A queued execution still in a queue (behind a backlog) gets a new lease, so it is looked at again
    only after that; a running one keeps its expired lease, which is what lets the next worker take it over.
    """
    now = now or timezone.now()
    counts = {"resent": 0, "still_queued": 0, "unknown": 0}
    # Rows another sweep is handling right now are skipped, so two sweeps never send one execution twice.
    with transaction.atomic():
        expired = list(
            WorkflowExecution.objects.select_for_update(skip_locked=True)
            .filter(status__in=WATCHED_STATUSES, lease_expires_at__lt=now)
            .exclude(task_id="")
            .only("pk", "owner_id", "status", "priority", "task_id", "attempt", "progress")
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
            point = suspended_point(execution)
            token = point.get("token") if point else None
            logger.warning(
                "Execution %s (%s, attempt %s%s) is held by no queue or worker; sending task %s again",
                execution.pk, execution.status, execution.attempt,
                "" if token is None else f", continuation of attempt {token}", execution.task_id,
            )  # fmt: skip
            dispatch.send_execution_run(
                execution.pk,
                queue=execution.priority,
                task_id=execution.task_id,
                token=token,
                owner_id=execution.owner_id,
            )
            counts["resent"] += 1
    if queued is None:
        logger.warning("The broker cannot list its queued messages; %s expired leases not checked", len(expired))
    return counts


# --- backtests ---------------------------------------------------------------------
# A backtest holds a lease the same way: enqueueing grants one, the worker running it claims it and renews
# it (hold_lease). Its points are stored one by one (execution.backtests.engine), so a worker that takes
# a running backtest over goes on after the last stored point; it never suspends.

BACKTEST_WATCHED_STATUSES = (Backtest.Status.PENDING, Backtest.Status.RUNNING)


def claim_backtest(backtest: Backtest) -> Claim:
    """Take `backtest` for this worker if nobody else runs it; updates the instance on success.

    Raises ExecutionHeld when another worker holds a live lease on it. A backtest whose worker died
    while it stopped (cancelled) is to be settled cancelled, and one interrupted
    settings.EXECUTION_MAX_INTERRUPTIONS times failed, with what it computed kept.
    """
    now = timezone.now()
    with transaction.atomic():
        row = Backtest.objects.select_for_update().get(pk=backtest.pk)
        if row.is_finished():
            backtest.status = row.status
            return Claim(finished=True)
        if row.status == Backtest.Status.RUNNING and row.lease_expires_at and row.lease_expires_at > now:
            raise ExecutionHeld(backtest.pk, (row.lease_expires_at - now).total_seconds() + 1, kind="Backtest")
        taken_over = row.status == Backtest.Status.RUNNING
        row.status = Backtest.Status.RUNNING
        row.attempt += 1
        row.interruptions += taken_over
        row.lease_expires_at = lease_end(now)
        row.started_at = row.started_at or now
        row.save(update_fields=["status", "attempt", "interruptions", "lease_expires_at", "started_at"])
    for name in ("status", "attempt", "interruptions", "lease_expires_at", "started_at"):
        setattr(backtest, name, getattr(row, name))
    if taken_over and row.cancel_requested:
        return Claim(
            settle_status=Backtest.Status.CANCELLED, error="Cancelled; its worker was lost while it stopped",
            taken_over=True,
        )
    if row.interruptions >= settings.EXECUTION_MAX_INTERRUPTIONS:
        return Claim(
            settle_status=Backtest.Status.FAILED,
            error=f"Interrupted {row.interruptions} times (its worker was lost each time); not tried again",
            taken_over=True,
        )
    return Claim(run=True, taken_over=taken_over)


def recover_stranded_backtests(now: datetime.datetime | None = None) -> dict:
    """Send again every pending or running backtest whose lease ran out and whose message waits in no queue.

    As for executions (recover_stranded_executions): a pending one still in a queue gets a new lease; a
    running one lost its worker, and the next worker takes it over from its last stored point.
    """
    now = now or timezone.now()
    counts = {"resent": 0, "still_queued": 0, "unknown": 0}
    with transaction.atomic():
        expired = list(
            Backtest.objects.select_for_update(skip_locked=True)
            .filter(status__in=BACKTEST_WATCHED_STATUSES, lease_expires_at__lt=now)
            .exclude(task_id="")
            .only("pk", "status", "task_id", "attempt", "progress")
        )
        if not expired:
            return counts
        queued = waiting_task_ids()
        if queued is None:
            logger.warning("The broker cannot list its queued messages; %s expired backtest leases not checked",
                           len(expired))  # fmt: skip
            counts["unknown"] = len(expired)
            return counts
        for backtest in expired:
            if backtest.task_id in queued:
                if backtest.status != Backtest.Status.RUNNING:
                    Backtest.objects.filter(pk=backtest.pk).update(lease_expires_at=lease_end(now))
                counts["still_queued"] += 1
                continue
            logger.warning(
                "Backtest %s (%s, attempt %s, %s points stored) is held by no queue or worker; sending task %s again",
                backtest.pk, backtest.status, backtest.attempt, (backtest.progress or {}).get("points_done", 0),
                backtest.task_id,
            )  # fmt: skip
            dispatch.send_backtest_run(backtest.pk, task_id=backtest.task_id)
            counts["resent"] += 1
    return counts
