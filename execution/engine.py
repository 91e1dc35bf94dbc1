"""Runs one WorkflowExecution: its symbols in order, each symbol's steps as a dependency graph.

`ExecutionRun(execution).run(token)` is what the run task calls (through execution.runner), and
what tests and the bench call without Celery. For each symbol the pinned steps run with a
SymbolContext; independent chains run at the same time on the worker process's shared step
threads (which drop their database connections when idle), and every step leaves one StepRun row
and two progress events. A symbol that fails is recorded and the next one runs; a critical error
(broker authentication lost, database gone) ends the execution with what was done kept.

Segments and suspension: a run never sleeps in its task. It is a series of segments, each one
delivery of the run task. When the run must wait (the symbol delay before the next symbol, a
`wait` step, the backoff before a transient failure's retry, a person's approval before
place_order) it lets the steps already running finish, starts those the wait does not gate, and
when nothing is left to do before the wait ends it suspends (execution.leases.suspend): the
resume point (symbol index, finished and skipped steps, per-step retry counts, the timers of
waits and backoffs in progress, with a `wait` step's running StepRun) is saved in
`execution.progress["parked"]`, a continuation with an ETA is sent, and the task returns. The
continuation's segment restores the symbol's context from its StepRun rows and goes on. The
status stays `running` through a delay, wait or backoff (`awaiting_approval` for a person); a
wait that ends while other steps still run ends in the same segment.

The cancel flag is read between steps, between symbols and once more when the run ends (a cancel
during the last step still counts); a suspended run is cancelled at once by execution.cancel. A model
call reads it too while it waits for a retry or for its provider's room (agents.cancels): its step
ends cancelled at once, and no retry is sent.

Time limits (DESIGN §6) are kept here, so they hold on every pool (the io worker's threads pool has
no signal to enforce Celery's): a segment that has run settings.CELERY_TASK_SOFT_TIME_LIMIT seconds
starts no further step and ends failed, "Timed out: …", with the work done kept, once its running
steps end. A step still running at settings.CELERY_TASK_TIME_LIMIT is abandoned: its sandbox child is
killed, it is recorded "Stopped while running: Timed out: …" (an order it was placing is confirmed at
the broker or marked for reconciliation, as for a terminated cancel), and the run ends failed; a thread
stuck in a model or broker call ends with that call's own timeout and records nothing more. Celery's
limits on the run task lie beyond these (execution.tasks), for a prefork pool's child stuck elsewhere.
A segment first claims its execution and holds a lease on it while it runs (execution.leases),
so one execution never runs on two workers at once, and a run whose worker died is taken over.
"""

import datetime
import json
import logging
import os
import queue
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.utils import timezone

from agents.cancels import CallCancelled
from agents.sandbox import SandboxChildren, children_scope
from broker.adapters import BrokerError, PermanentBrokerError, get_adapter
from execution import approvals, leases, notifications, progress, retries
from execution.cancel import execution_abandon, settle_stopped_steps
from execution.graph import StepNode, build_graph
from execution.models import StepRun, WorkflowExecution
from execution.steps import get_step
from execution.steps.base import CriticalError, StepError, StepSkipped, SymbolContext, WaitRequested
from execution.steps.inputs import LiveInputs
from workflows.parameters import resolve_config
from workflows.steps import STEP_TYPES
from workflows.templates import legacy_strategy_steps

logger = logging.getLogger(__name__)

MAX_PARALLEL_STEPS = 4
# Connection-level database failures: the run cannot record anything any more.
DATABASE_GONE = (OperationalError, InterfaceError)


def load_steps(execution: WorkflowExecution) -> tuple[list[dict], list[str]]:
    """The steps this execution runs: its pinned version's, or the legacy flow of a strategy without workflow."""
    if execution.version_id:
        return list(execution.version.steps), []
    if execution.workflow_id and execution.workflow.current_version_id:
        return list(execution.workflow.current_version.steps), []
    return legacy_strategy_steps(execution.params)


def _resolved(step: dict, params: dict) -> dict:
    """The step with its config's `{{param}}` references substituted and missing settings defaulted."""
    config = resolve_config(step.get("config") or {}, params)
    step_type = STEP_TYPES.get(step.get("type"))
    return {**step, "config": step_type.with_defaults(config) if step_type else config}


def _json_safe(value) -> dict:
    return json.loads(json.dumps(value, default=str))


class StepThreads:
    """The worker process's threads for steps, shared by every execution the process runs.

    A thread starts when a step finds none free (up to settings.EXECUTION_STEP_THREADS) and closes
    its database connections when it has had no step for IDLE_SECONDS, so many executions in one
    process (a threads pool) hold connections only for the steps actually running.
    (A ThreadPoolExecutor gives no hook for that, and closing per step would reconnect per step.)
    """

    IDLE_SECONDS = 2.0
    _lock = threading.Lock()
    _instance: "StepThreads | None" = None

    def __init__(self):
        self.pid = os.getpid()
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.idle = 0
        self.count = 0

    @classmethod
    def for_this_process(cls) -> "StepThreads":
        with cls._lock:
            if cls._instance is None or cls._instance.pid != os.getpid():  # a forked pool child has its own
                cls._instance = StepThreads()
            return cls._instance

    def submit(self, function, *args) -> Future:
        future: Future = Future()
        with self.lock:
            if self.idle:
                self.idle -= 1
            elif self.count < settings.EXECUTION_STEP_THREADS:
                self.count += 1
                threading.Thread(target=self._work, name=f"steps-{self.count}", daemon=True).start()
        self.jobs.put((future, function, args))
        return future

    def _work(self) -> None:
        while True:
            try:
                future, function, args = self.jobs.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                connections.close_all()  # this thread's connections only
                future, function, args = self.jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function(*args))
                except BaseException as exc:  # handed to the engine's thread through the future
                    future.set_exception(exc)
            with self.lock:
                self.idle += 1


@dataclass
class StepWaiting:
    """A step that is not done yet: a `wait` step in progress, or a transient failure to try again at `wake_at`."""

    kind: str  # "wait" | "retry"
    wake_at: datetime.datetime
    step_run_id: int | None = None
    seconds: float = 0.0
    retries_done: int = 0
    error: str = ""

    def as_timer(self) -> dict:
        return {
            "kind": self.kind,
            "wake_at": self.wake_at.isoformat(),
            "step_run_id": self.step_run_id,
            "seconds": self.seconds,
            "error": self.error,
        }

    @classmethod
    def from_timer(cls, timer: dict) -> "StepWaiting":
        return cls(
            kind=timer["kind"],
            wake_at=datetime.datetime.fromisoformat(timer["wake_at"]),
            step_run_id=timer.get("step_run_id"),
            seconds=timer.get("seconds", 0.0),
            error=timer.get("error", ""),
        )


@dataclass
class SymbolOutcome:
    symbol: str
    failed: bool = False
    errors: list[dict] = field(default_factory=list)
    decision_type: str = ""
    order_placed: bool = False
    broker_trouble: bool = False  # a step failed on a broker error: worth asking the broker for its status
    # Where the symbol stops for now (see the module doc): its resume point, and when it wakes
    # (None: when a person answers, see execution.approvals).
    suspended: dict | None = None
    wake_at: datetime.datetime | None = None


class ExecutionRun:
    """The bookkeeping of one run: results, progress, StepRun rows and events.

    `inputs` is where the steps get bars, charts, account, risk caps and model answers: the live
    ones, or a replay's frozen ones (execution/replay.py).
    """

    def __init__(self, execution: WorkflowExecution, inputs: LiveInputs | None = None):
        self.execution = execution
        self.inputs = inputs or LiveInputs()
        self.symbols: list[str] = list(execution.symbols or [])
        raw_steps, self.warnings = load_steps(execution)
        self.steps = [_resolved(step, execution.params) for step in raw_steps]
        self.graph = build_graph(self.steps)
        self.results = {
            "symbols_processed": 0,
            "decisions_made": {"buy": 0, "sell": 0, "hold": 0},
            "orders_placed": 0,
            "errors": [],
        }
        if self.warnings:
            self.results["warnings"] = list(self.warnings)
        self.progress = {
            "current_step": 0,
            "total_steps": len(self.steps) * len(self.symbols),
            "current_symbol": "",
            "completed_symbols": 0,
        }
        self.cancelled = False
        self.lease: leases.HeldLease | None = None
        self.progress_lock = threading.Lock()
        # The segment's time limits (time.monotonic(), set when it starts) and, once the soft one is
        # past, the run's error.
        self.soft_limit_at = self.hard_limit_at = float("inf")
        self.timeout_error = ""
        # A step's thread records its attempt under this lock; the hard limit abandons steps under it too,
        # so a step is recorded either by its thread or as stopped, never both.
        self.record_lock = threading.Lock()
        self.abandoned: set[int] = set()  # graph indexes of the steps abandoned at the hard limit
        self.step_children: dict[int, SandboxChildren] = {}  # graph index -> the sandbox children of its step
        self.resume: dict | None = None  # where a continuation goes on (set by the claim)

    # --- the run -----------------------------------------------------------------

    def run(self, token: int | None = None) -> dict:
        """Claim the execution (leases.ExecutionHeld when another worker runs it), run one segment of it
        (to its end or its next suspension), record the outcome. `token` is a continuation's."""
        claim = leases.claim(self.execution, token)
        if claim.finished:
            logger.info("Execution %s is already %s; nothing to run", self.execution.pk, self.execution.status)
            return self.execution.results
        if claim.stale:
            logger.info("Execution %s: a stale or duplicate continuation (token %s); nothing to run",
                        self.execution.pk, token)  # fmt: skip
            return self.execution.results
        if not claim.run:
            return self._settle(claim)
        if claim.resume:
            # Continuing after a suspension: keep the totals of the work done before it.
            self.resume = claim.resume
            self.results = {**self.results, **self.execution.results}
            self.progress = {**self.progress, **self.execution.progress}
        announce = claim.resumed_status != WorkflowExecution.Status.RUNNING
        started = time.monotonic()
        self.soft_limit_at = started + settings.CELERY_TASK_SOFT_TIME_LIMIT
        self.hard_limit_at = started + settings.CELERY_TASK_TIME_LIMIT
        self._mark_running(taken_over=claim.taken_over, announce=announce)
        error = ""
        self.lease = leases.hold_lease(self.execution)
        self.threads = StepThreads.for_this_process()
        try:
            if not self.steps:
                raise CriticalError("The workflow has no steps to run")
            self._check_broker()
            first = self.resume["symbol_index"] if self.resume else 0
            delay = float(self.execution.params.get("symbol_delay", 0) or 0)
            for position, symbol in enumerate(self.symbols[first:], start=first):
                if self._cancel_requested():
                    break
                if position > first and delay > 0:
                    point = {"kind": "delay", "symbol": symbol, "symbol_index": position, "started": False}
                    wake_at = timezone.now() + datetime.timedelta(seconds=delay)
                    if self._suspend(point, wake_at, symbol):
                        return self.execution.results
                    break
                outcome = self._run_symbol(symbol)
                if outcome.suspended is not None:
                    point = {**outcome.suspended, "symbol": symbol, "symbol_index": position, "started": True}
                    if self._suspend(point, outcome.wake_at, symbol):
                        return self.execution.results
                    break
                self._record_symbol(outcome)
                if self.cancelled:
                    break
        except SoftTimeLimitExceeded:  # Celery's own limit (execution.tasks): the engine's did not stop the run
            self._soft_limit_reached()
        except CriticalError as exc:
            error = str(exc)
            logger.error("Execution %s aborted: %s", self.execution.pk, error)
        except DATABASE_GONE as exc:
            error = f"Database error: {exc}"
            logger.exception("Execution %s aborted by a database error", self.execution.pk)
        except Exception as exc:
            error = f"Internal error: {retries.short_error(exc)}"
            self.execution.detail = retries.traceback_text(exc)
            logger.exception("Execution %s aborted by an unexpected error", self.execution.pk)
        finally:
            self.lease.release()
        return self._finish(error)

    def _suspend(self, point: dict, wake_at: datetime.datetime | None, symbol: str) -> bool:
        """Save where the run is and send its continuation (see the module doc); False when it must end instead
        (cancelled, or taken over by another worker)."""
        if self._cancel_requested():
            return False
        progress_state = dict(self.progress, current_symbol=symbol)
        if wake_at is None:
            saved = approvals.park_execution(
                execution=self.execution, point=point, results=_json_safe(self.results), progress_state=progress_state
            )
        else:
            saved = leases.suspend(
                self.execution, point=point, wake_at=wake_at, results=_json_safe(self.results),
                progress_state=progress_state,
            )  # fmt: skip
            if saved:
                logger.info("Execution %s waits (%s) until %s", self.execution.pk, point["kind"], wake_at.isoformat())
        if not saved:
            self.cancelled = True  # a cancel came in meanwhile, or the run is another worker's now
        return bool(saved)

    def _mark_running(self, *, taken_over: bool, announce: bool = True) -> None:
        execution = self.execution
        if taken_over:
            # The worker of the previous run died; its unfinished steps run again.
            StepRun.objects.filter(execution=execution, status=StepRun.Status.RUNNING).update(
                status=StepRun.Status.FAILED,
                error="Interrupted: the worker running this step was lost; the execution was redelivered",
                finished_at=timezone.now(),
            )
        execution.started_at = execution.started_at or timezone.now()
        execution.progress = dict(self.progress)
        execution.error = ""
        execution.save(update_fields=["started_at", "progress", "error"])
        if announce:  # a segment after a delay, wait or backoff: the status did not change
            progress.execution_status(execution)

    def _settle(self, claim: leases.Claim) -> dict:
        """End a run that must not go on (see leases.claim) as its claim says, keeping what it did."""
        logger.warning("Execution %s ends %s without running: %s", self.execution.pk, claim.settle_status, claim.error)
        execution = execution_abandon(self.execution, claim.error, status=claim.settle_status)
        if execution.status == WorkflowExecution.Status.FAILED:
            notifications.execution_failed(execution)
        return execution.results

    def _finish(self, error: str) -> dict:
        execution = self.execution
        error = error or self.timeout_error
        failed_symbols = {entry["symbol"] for entry in self.results["errors"]}
        if not error:
            # A cancel that lands during the last step is seen by no boundary check; it still ends the run cancelled.
            self._cancel_requested()
        if error:
            status = WorkflowExecution.Status.FAILED
        elif self.cancelled:
            status = WorkflowExecution.Status.CANCELLED
        elif self.symbols and len(failed_symbols) >= len(self.symbols):
            status = WorkflowExecution.Status.FAILED
            error = f"Every symbol failed ({', '.join(self.symbols)}); see errors"
        else:
            status = WorkflowExecution.Status.COMPLETED
        execution.status = status
        execution.error = error
        execution.results = _json_safe(self.closing_results(status))
        execution.progress = dict(self.progress, current_symbol="")
        execution.completed_at = timezone.now()
        try:
            if not self._save_final_status():
                return execution.results
        except DatabaseError:
            logger.exception("Execution %s: could not save its final status %s", execution.pk, status)
        progress.execution_status(execution)
        if status == WorkflowExecution.Status.FAILED:
            progress.notify_owner(execution, "error", f"Execution {execution.pk} failed: {error}")
            notifications.execution_failed(execution)
        return execution.results

    def closing_results(self, status: str) -> dict:
        """The results saved with the final status (a replay adds its report, see execution/replay.py)."""
        return self.results

    def _save_final_status(self) -> bool:
        """Save the outcome, on a new connection if the database dropped this one (the run ended on that).

        False when another worker has taken the execution over: its outcome is that run's to record.

        No step runs any more, so a step run still marked running was cut off by the error that ended
        the run (a dropped connection cannot record its step's end): it is marked failed with the run.
        """
        for reconnect in (False, True):
            if reconnect:
                connections["default"].close()  # the next query opens a fresh connection
            try:
                with transaction.atomic():
                    if not self._save_outcome_if_still_held():
                        logger.warning("Execution %s was taken over by another worker; this run's outcome is "
                                       "not recorded", self.execution.pk)  # fmt: skip
                        return False
                    StepRun.objects.filter(execution=self.execution, status=StepRun.Status.RUNNING).update(
                        status=StepRun.Status.FAILED,
                        error=f"Interrupted: {self.execution.error or 'the run ended while this step ran'}",
                        finished_at=self.execution.completed_at,
                    )
                return True
            except DATABASE_GONE:
                if reconnect:
                    raise
                logger.warning("Execution %s: database connection lost; saving its outcome on a new one",
                               self.execution.pk)  # fmt: skip

    def _save_outcome_if_still_held(self) -> bool:
        execution = self.execution
        return bool(
            WorkflowExecution.objects.filter(pk=execution.pk, attempt=execution.attempt).update(
                status=execution.status,
                error=execution.error,
                detail=execution.detail,
                results=execution.results,
                progress=execution.progress,
                completed_at=execution.completed_at,
                lease_expires_at=None,
            )
        )

    def _cancel_requested(self) -> bool:
        """Whether the run should stop: cancelled by its owner, taken over by another worker, or past its soft
        time limit."""
        if not self.timeout_error and time.monotonic() >= self.soft_limit_at:
            self._soft_limit_reached()
        lost = self.lease is not None and self.lease.lost.is_set()
        if not self.cancelled and (lost or self.execution.cancel_was_requested()):
            self.cancelled = True
        return self.cancelled

    def _soft_limit_reached(self) -> None:
        """The run stops (see the module doc) and fails with a timeout; steps still running get until the hard limit."""
        with self.progress_lock:  # step threads ask _cancel_requested too: the limit is reached once
            if self.timeout_error:
                return
            self.timeout_error = (
                f"Timed out: the soft time limit of {settings.CELERY_TASK_SOFT_TIME_LIMIT} s was reached; "
                "the work done so far is kept"
            )
        self.cancelled = True
        # Should the worker die before the run ends, the error kept here lets the next claim settle it as failed.
        WorkflowExecution.objects.filter(pk=self.execution.pk).update(cancel_requested=True, error=self.timeout_error)
        logger.error("Execution %s: %s", self.execution.pk, self.timeout_error)

    def _seconds_to_time_limit(self) -> float:
        """Until the soft time limit or, once past it, the hard one."""
        limit_at = self.hard_limit_at if self.timeout_error else self.soft_limit_at
        return max(0.0, limit_at - time.monotonic())

    def _abandon_steps(self, ctx: SymbolContext, nodes: list[StepNode]) -> None:
        """At the hard time limit: stop the steps still running and record them stopped (see the module doc)."""
        with self.record_lock:
            for node in nodes:
                self.abandoned.add(node.index)
                children = self.step_children.get(node.index)
                killed = children.kill_all() if children is not None else 0
                logger.error(
                    "Execution %s, %s: step %s still ran at the hard time limit (%s s); abandoned%s",
                    self.execution.pk, ctx.symbol, node.step_id, settings.CELERY_TASK_TIME_LIMIT,
                    f", its {killed} sandbox process(es) killed" if killed else "",
                )  # fmt: skip
            settle_stopped_steps(self.execution, self.timeout_error, StepRun.Status.FAILED)

    def _check_broker(self) -> None:
        """Abort when the broker says this session is no longer authenticated; other trouble fails symbols."""
        try:
            status = get_adapter().status()
        except PermanentBrokerError as exc:
            raise CriticalError(f"Broker refused the session: {exc}") from exc
        except BrokerError as exc:
            logger.warning("Execution %s: broker status unavailable: %s", self.execution.pk, exc)
            return
        if status.connected and not status.authenticated:
            raise CriticalError(f"Broker session is not authenticated: {status.message or status.adapter}")

    def _record_symbol(self, outcome: SymbolOutcome) -> None:
        self.results["symbols_processed"] += 1
        if outcome.decision_type in self.results["decisions_made"]:
            self.results["decisions_made"][outcome.decision_type] += 1
        if outcome.order_placed:
            self.results["orders_placed"] += 1
        self.results["errors"].extend(outcome.errors)
        self.progress["completed_symbols"] += 1
        self.progress["current_step"] = self.progress["completed_symbols"] * len(self.steps)
        WorkflowExecution.objects.filter(pk=self.execution.pk).update(
            progress=self.progress, results=_json_safe(self.results)
        )
        status = "failed" if outcome.failed else "completed"
        error = "; ".join(entry["error"] for entry in outcome.errors)
        progress.symbol_finished(self.execution, outcome.symbol, status, dict(self.progress), error)

    # --- one symbol --------------------------------------------------------------

    def _run_symbol(self, symbol: str) -> SymbolOutcome:
        self.progress["current_symbol"] = symbol
        ctx = SymbolContext(
            execution=self.execution, symbol=symbol, params=self.execution.params, steps=self.steps, inputs=self.inputs
        )
        outcome = SymbolOutcome(symbol=symbol)
        resume, self.resume = self.resume, None
        if resume and resume.get("started", True):
            approvals.restore_symbol_context(ctx, resume)
        else:
            resume = None
            progress.symbol_started(self.execution, symbol, dict(self.progress))
        self._run_graph(ctx, outcome, resume)
        if outcome.suspended is not None:
            return outcome
        if outcome.broker_trouble:
            self._check_broker()
        if ctx.decision is not None:
            outcome.decision_type = ctx.decision.type
        outcome.order_placed = ctx.order is not None and not self.execution.dry_run
        return outcome

    def _run_graph(self, ctx: SymbolContext, outcome: SymbolOutcome, resume: dict | None = None) -> None:
        """Run the symbol's steps until all are done, or until only waits are left (then `outcome.suspended`)."""
        resume = resume or {}
        finished: set[int] = set(resume.get("finished") or [])
        skipped: dict[str, str] = dict(resume.get("skipped") or {})  # step id -> why
        retries_done: dict[int, int] = {int(index): count for index, count in (resume.get("retries") or {}).items()}
        timers: dict[int, StepWaiting] = {
            int(index): StepWaiting.from_timer(timer) for index, timer in (resume.get("timers") or {}).items()
        }
        pending = {node.index: node for node in self.graph if node.index not in finished}
        running: dict[Future, StepNode] = {}
        critical: BaseException | None = None
        approval: dict | None = None
        while pending or running:
            stop = outcome.failed or approval is not None or critical is not None or self._cancel_requested()
            if running and self.timeout_error and self._seconds_to_time_limit() == 0:
                self._abandon_steps(ctx, list(running.values()))
                running.clear()
                critical = critical or CriticalError(self.timeout_error)
                break
            progressed = False
            if not stop:
                now = timezone.now()
                for node in sorted(pending.values(), key=lambda item: item.index):
                    if not node.depends_on <= finished or len(running) >= MAX_PARALLEL_STEPS:
                        continue
                    timer = timers.get(node.index)
                    if timer is not None:
                        if timer.wake_at > now:
                            continue
                        del timers[node.index]
                        if timer.kind == "wait":
                            del pending[node.index]
                            self._end_wait(ctx, node, timer)
                            finished.add(node.index)
                            progressed = True
                            continue
                    elif self.inputs.asks_for_approval and approvals.approval_needed(ctx, node.step):
                        # Nothing new starts; the steps already running finish before the run parks.
                        approval = {"step_index": node.index, "step_id": node.step_id, "decision_id": ctx.decision.pk}
                        break
                    del pending[node.index]
                    reason = self._skip_reason(node, skipped)
                    if reason:
                        skipped[node.step_id] = reason
                        self._record_skipped(ctx, node, reason)
                        finished.add(node.index)
                        progressed = True
                        continue
                    running[self.threads.submit(self._run_step, ctx, node, retries_done.get(node.index, 0))] = node
            if not running:
                if stop or not pending or not (progressed or timers):
                    break
                if progressed:
                    continue  # skipping or ending steps made others ready
                outcome.wake_at = min(timer.wake_at for timer in timers.values())
                break  # only waits are left: the run suspends until the first ends
            next_wake = min((timer.wake_at for timer in timers.values()), default=None)
            timeout = self._seconds_to_time_limit()
            if next_wake:
                timeout = min(timeout, max(0.0, (next_wake - timezone.now()).total_seconds()))
            done, _ = wait(running, timeout=None if timeout == float("inf") else timeout, return_when=FIRST_COMPLETED)
            for future in done:
                node = running.pop(future)
                try:
                    output = future.result()
                except (CriticalError, *DATABASE_GONE) as exc:
                    critical = critical or exc
                    continue
                except Exception as exc:  # a StepError, or a failure of the bookkeeping around the step
                    outcome.failed = True
                    outcome.broker_trouble |= isinstance(exc.__cause__, BrokerError)
                    outcome.errors.append(self._symbol_error(ctx, node, str(exc)))
                    continue
                if isinstance(output, StepWaiting):
                    timers[node.index] = output
                    pending[node.index] = node
                    if output.kind == "retry":
                        retries_done[node.index] = output.retries_done
                    continue
                finished.add(node.index)
                for step_id in output.get("skip_steps", []):
                    skipped.setdefault(step_id, f"Branch not taken at condition {node.step_id}")
        if critical is not None:
            self._stop_timers(ctx, timers, outcome)
            raise critical if isinstance(critical, CriticalError) else CriticalError(f"Database error: {critical}")
        if outcome.failed or (self.cancelled and (approval is not None or timers)):
            self._stop_timers(ctx, timers, outcome)
        elif approval is not None or timers:
            first_timer = min(timers.values(), key=lambda timer: timer.wake_at, default=None)
            outcome.suspended = {
                "kind": "approval" if approval is not None else first_timer.kind,
                **(approval or {}),
                "finished": sorted(finished),
                "skipped": skipped,
                "retries": {str(index): count for index, count in retries_done.items()},
                "timers": {str(index): timer.as_timer() for index, timer in timers.items()},
            }
            if ctx.decision is not None:
                outcome.suspended.setdefault("decision_id", ctx.decision.pk)
            if approval is not None:
                outcome.wake_at = None

    def _symbol_error(self, ctx: SymbolContext, node: StepNode, error: str) -> dict:
        return {"symbol": ctx.symbol, "step_id": node.step_id, "step_type": node.step["type"], "error": error}

    def _stop_timers(self, ctx: SymbolContext, timers: dict[int, "StepWaiting"], outcome: SymbolOutcome) -> None:
        """The symbol stops with waits in progress: a `wait` step ends cancelled, a pending retry fails the step."""
        for index, timer in sorted(timers.items()):
            node = self.graph[index]
            if timer.kind == "wait":
                self._end_wait(ctx, node, timer, cancelled=True)
                continue
            outcome.failed = True
            outcome.errors.append(self._symbol_error(ctx, node, timer.error))
            progress.notify_owner(
                self.execution, "error", f"{ctx.symbol}: step {node.step_id} failed: {timer.error}",
                symbol=ctx.symbol, step_id=node.step_id,
            )  # fmt: skip
        timers.clear()

    def _end_wait(self, ctx: SymbolContext, node: StepNode, timer: "StepWaiting", *, cancelled: bool = False) -> None:
        """A `wait` step's StepRun spans the wait: it ends here, when its time is up (or the symbol stops)."""
        step_run = StepRun.objects.get(pk=timer.step_run_id)
        now = timezone.now()
        waited = max(0.0, (now - step_run.started_at).total_seconds())
        output = {"seconds": timer.seconds, "waited_seconds": round(waited, 3), "cancelled": cancelled}
        step_run.status, step_run.output, step_run.finished_at = StepRun.Status.COMPLETED, output, now
        step_run.duration_ms = int(waited * 1000)
        with transaction.atomic():
            step_run.save(update_fields=["status", "output", "finished_at", "duration_ms"])
            self._step_finished(node)
        with ctx.lock:
            ctx.outputs[node.step_id] = output
        progress.step_finished(self.execution, step_run, self._progress_for(node))

    def _skip_reason(self, node: StepNode, skipped: dict[str, str]) -> str:
        if node.step_id in skipped:
            return skipped[node.step_id]
        if node.data_inputs:
            inputs = [self.steps[index]["id"] for index in node.data_inputs]
            if all(step_id in skipped for step_id in inputs):
                return f"Its inputs were skipped ({', '.join(inputs)})"
        return ""

    # --- one step ----------------------------------------------------------------

    def _run_step(self, ctx: SymbolContext, node: StepNode, retries_done: int = 0) -> "dict | StepWaiting":
        """Run one attempt of a step. A transient failure (see retries.py) comes back as a StepWaiting for
        its retry after the backoff, the work done kept; a `wait` step comes back as a StepWaiting too.

        Every attempt leaves its own StepRun, numbered per step (a redelivered execution continues the count).
        """
        attempt = StepRun.objects.filter(execution=self.execution, symbol=ctx.symbol, step_id=node.step_id).count() + 1
        step_run, output, failure = self._attempt_step(ctx, node, attempt)
        with self.record_lock:
            if node.index in self.abandoned:  # recorded as stopped at the hard time limit; its run has ended
                logger.info("Execution %s, %s: abandoned step %s ended; not recorded",
                            self.execution.pk, ctx.symbol, node.step_id)  # fmt: skip
                return {}
            return self._record_attempt(ctx, node, step_run, output, failure, attempt, retries_done)

    def _record_attempt(
        self,
        ctx: SymbolContext,
        node: StepNode,
        step_run: StepRun,
        output: dict,
        failure: BaseException | None,
        attempt: int,
        retries_done: int,
    ) -> "dict | StepWaiting":
        """Record what one attempt of a step did (see _run_step); raises the step's failure."""
        if isinstance(failure, WaitRequested):
            wake_at = step_run.started_at + datetime.timedelta(seconds=failure.seconds)
            return StepWaiting(kind="wait", wake_at=wake_at, step_run_id=step_run.pk, seconds=failure.seconds)
        if (
            failure is not None
            and not isinstance(failure, DATABASE_GONE)
            and retries.may_retry(failure, retries_done)
            and not self._cancel_requested()
        ):
            delay = retries.retry_delay(retries_done + 1)
            step_run.output = _json_safe({**output, "retry_in": delay})
            step_run.error = f"{failure} (transient; attempt {attempt + 1} in {delay:g} s)"
            step_run.detail = retries.failure_detail(failure)
            step_run.save(update_fields=["status", "output", "error", "detail", "finished_at", "duration_ms"])
            progress.step_finished(self.execution, step_run, self._progress_for(node))
            progress.step_retrying(self.execution, step_run, self._progress_for(node), delay)
            logger.warning(
                "Execution %s, %s, step %s attempt %d failed, retrying in %g s: %s",
                self.execution.pk, ctx.symbol, node.step_id, attempt, delay, failure,
            )  # fmt: skip
            wake_at = timezone.now() + datetime.timedelta(seconds=delay)
            return StepWaiting(kind="retry", wake_at=wake_at, retries_done=retries_done + 1, error=str(failure))
        if failure is not None and not isinstance(failure, DATABASE_GONE):
            step_run.output = _json_safe(output)
            step_run.error = str(failure)
            step_run.detail = retries.failure_detail(failure)
            logger.warning(
                "Execution %s, %s, step %s failed: %s\n%s",
                self.execution.pk, ctx.symbol, node.step_id, failure, step_run.detail,
            )  # fmt: skip
        if isinstance(failure, DATABASE_GONE):
            self._count_finished_step(node)
        else:
            with transaction.atomic():  # one commit for the step's record and the execution's progress
                step_run.save(update_fields=["status", "output", "error", "detail", "finished_at", "duration_ms"])
                self._step_finished(node)
        progress.step_finished(self.execution, step_run, self._progress_for(node))
        if failure is not None:
            if not isinstance(failure, DATABASE_GONE):
                progress.notify_owner(
                    self.execution, "error", f"{ctx.symbol}: step {node.step_id} failed: {failure}",
                    symbol=ctx.symbol, step_id=node.step_id,
                )  # fmt: skip
            raise failure
        return output

    def _attempt_step(
        self, ctx: SymbolContext, node: StepNode, attempt: int
    ) -> tuple[StepRun, dict, BaseException | None]:
        """One attempt of a step: its StepRun (filled in, not yet saved as finished), output and failure."""
        step = node.step
        step_run = StepRun.objects.create(
            execution=self.execution,
            symbol=ctx.symbol,
            index=node.index,
            step_id=step["id"],
            step_type=step["type"],
            status=StepRun.Status.RUNNING,
            attempt=attempt,
            started_at=timezone.now(),
        )
        progress.step_started(self.execution, step_run, self._progress_for(node))
        started = time.monotonic()
        output: dict = {}
        failure: BaseException | None = None
        status = StepRun.Status.COMPLETED
        try:
            with ctx.running(step, node.index), children_scope() as children:
                self.step_children[node.index] = children
                output = get_step(step["type"])(step["config"], ctx) or {}
        except WaitRequested as exc:
            # The StepRun stays running through the wait (the engine ends it, see _end_wait).
            step_run.output = {"seconds": exc.seconds}
            step_run.save(update_fields=["output"])
            return step_run, step_run.output, exc
        except CallCancelled as exc:
            # A model call saw the cancel while it waited (agents.cancels): the step stops there, failing nothing.
            logger.info("Execution %s, %s, step %s: %s", self.execution.pk, ctx.symbol, step["id"], exc)
            status, output = StepRun.Status.CANCELLED, {"cancelled": True, "reason": str(exc)}
        except StepSkipped as exc:
            status = StepRun.Status.SKIPPED
            output = {"reason": exc.reason, **exc.output}
        except StepError as exc:
            status, failure, output = StepRun.Status.FAILED, exc, exc.output
        except (CriticalError, *DATABASE_GONE) as exc:
            status, failure = StepRun.Status.FAILED, exc
        except BrokerError as exc:
            status, failure = StepRun.Status.FAILED, self._step_error(node, exc)
        except Exception as exc:
            logger.exception("Execution %s, %s, step %s failed", self.execution.pk, ctx.symbol, step["id"])
            status, failure = StepRun.Status.FAILED, self._step_error(node, exc)
        finally:
            self.step_children.pop(node.index, None)
        with ctx.lock:
            ctx.outputs[step["id"]] = output
        step_run.status = status
        step_run.output = _json_safe(output)
        step_run.error = str(failure) if failure else ""
        step_run.finished_at = timezone.now()
        step_run.duration_ms = int((time.monotonic() - started) * 1000)
        return step_run, output, failure

    def _step_error(self, node: StepNode, exc: BaseException) -> StepError:
        error = StepError(f"{node.step['type']} step {node.step_id} failed: {retries.short_error(exc)}")
        error.__cause__ = exc
        return error

    def _progress_for(self, node: StepNode) -> dict:
        return dict(self.progress, current_step_id=node.step_id)

    def _count_finished_step(self, node: StepNode) -> dict:
        with self.progress_lock:
            self.progress["current_step"] += 1
            return self._progress_for(node)

    def _step_finished(self, node: StepNode) -> None:
        snapshot = self._count_finished_step(node)
        WorkflowExecution.objects.filter(pk=self.execution.pk).update(progress=snapshot)

    def _record_skipped(self, ctx: SymbolContext, node: StepNode, reason: str) -> None:
        now = timezone.now()
        with transaction.atomic():
            step_run = StepRun.objects.create(
                execution=self.execution,
                symbol=ctx.symbol,
                index=node.index,
                step_id=node.step_id,
                step_type=node.step["type"],
                status=StepRun.Status.SKIPPED,
                attempt=self.execution.attempt,
                started_at=now,
                finished_at=now,
                duration_ms=0,
                output={"reason": reason},
            )
            self._step_finished(node)
        with ctx.lock:
            ctx.outputs[node.step_id] = {"skipped": True, "reason": reason}
        progress.step_finished(self.execution, step_run, self._progress_for(node))
