"""Runs one WorkflowExecution: its symbols in order, each symbol's steps as a dependency graph.

`run_execution(execution_id)` is what the Celery task calls, and what tests and the bench call
without Celery. For each symbol the pinned steps run with a fresh SymbolContext; independent
chains run at the same time on the execution's step threads (which close their database
connections when the execution ends), and every step leaves one StepRun row and two progress
events. A symbol that fails is
recorded and the next one runs; a critical error (broker authentication lost, database gone)
ends the execution with what was done kept. The cancel flag is read between steps, between
symbols, inside waits and once more when the run ends (a cancel during the last step still counts).
A run first claims its execution and holds a lease on it while it runs (execution.leases), so one
execution never runs on two workers at once, and a run whose worker died is taken over.
"""

import json
import logging
import queue
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.utils import timezone

from broker.adapters import BrokerError, PermanentBrokerError, get_adapter
from execution import approvals, leases, notifications, progress, retries
from execution.graph import StepNode, build_graph
from execution.models import StepRun, WorkflowExecution
from execution.steps import get_step
from execution.steps.base import CriticalError, StepError, StepSkipped, SymbolContext
from execution.steps.flow import sleep_unless_cancelled
from execution.steps.inputs import LiveInputs
from workflows.parameters import resolve_config
from workflows.steps import STEP_TYPES
from workflows.templates import legacy_strategy_steps

logger = logging.getLogger(__name__)

MAX_PARALLEL_STEPS = 4
# Connection-level database failures: the run cannot record anything any more.
DATABASE_GONE = (OperationalError, InterfaceError)


def run_execution(execution_id: int) -> dict:
    """Run (or, after a redelivery, finish running) one execution; returns its results summary.

    A replay (a dry run with `params.replay_of`, see execution/replay.py) runs on its original's frozen inputs.
    """
    execution = WorkflowExecution.objects.select_related("owner", "workflow", "version", "strategy").get(
        pk=execution_id
    )
    if execution.is_finished():
        logger.info("Execution %s is already %s; nothing to run", execution.pk, execution.status)
        return execution.results
    if execution.dry_run and "replay_of" in execution.params:
        from execution.replay import replay_run  # the replay module builds on this one

        return replay_run(execution.pk).as_dict()
    return ExecutionRun(execution).run()


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
    """A fixed set of threads for one execution's steps; each closes its database connections when it ends.

    (A ThreadPoolExecutor gives no hook at thread exit, and closing per step would reconnect per step.)
    """

    def __init__(self, size: int, name: str):
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True) for n in range(size)]
        for thread in self.threads:
            thread.start()

    def submit(self, function, *args) -> Future:
        future: Future = Future()
        self.jobs.put((future, function, args))
        return future

    def _work(self) -> None:
        try:
            while (job := self.jobs.get()) is not None:
                future, function, args = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(function(*args))
                except BaseException as exc:  # handed to the engine's thread through the future
                    future.set_exception(exc)
        finally:
            connections.close_all()  # this thread's connections only

    def close(self) -> None:
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join()


@dataclass
class SymbolOutcome:
    symbol: str
    failed: bool = False
    errors: list[dict] = field(default_factory=list)
    decision_type: str = ""
    order_placed: bool = False
    broker_trouble: bool = False  # a step failed on a broker error: worth asking the broker for its status
    parked: dict | None = None  # where the symbol waits for a person's approval (see execution.approvals)


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
        self.lease: leases.LeaseKeeper | None = None
        self.progress_lock = threading.Lock()
        # Continuing after an approval: keep the totals of the symbols done before the run parked.
        self.resume = approvals.parked_point(execution)
        if self.resume:
            self.results = {**self.results, **execution.results}
            self.progress = {**self.progress, **execution.progress}
            del self.progress[approvals.PARKED]

    # --- the run -----------------------------------------------------------------

    def run(self) -> dict:
        """Claim the execution (leases.ExecutionHeld when another worker runs it), run it, record the outcome."""
        claim = leases.claim(self.execution)
        if claim.finished:
            logger.info("Execution %s is already %s; nothing to run", self.execution.pk, self.execution.status)
            return self.execution.results
        if not claim.run:
            return self._settle(claim)
        self._mark_running(taken_over=claim.taken_over)
        error = ""
        self.lease = leases.LeaseKeeper(self.execution).start()
        self.threads = StepThreads(MAX_PARALLEL_STEPS, f"execution-{self.execution.pk}")
        try:
            if not self.steps:
                raise CriticalError("The workflow has no steps to run")
            self._check_broker()
            first = self.resume["symbol_index"] if self.resume else 0
            for position, symbol in enumerate(self.symbols[first:], start=first):
                if self._cancel_requested():
                    break
                if position > first and not self._wait_between_symbols():
                    break
                outcome = self._run_symbol(symbol)
                if outcome.parked is not None:
                    return self._park(position, outcome)
                self._record_symbol(outcome)
                if self.cancelled:
                    break
        except SoftTimeLimitExceeded:
            error = (
                f"Timed out: the soft time limit of {settings.CELERY_TASK_SOFT_TIME_LIMIT} s was reached; "
                "the work done so far is kept"
            )
            # The steps still running stop at their next wait or boundary, before the hard limit kills them;
            # should it kill them, the error kept here lets the next claim settle the run as failed.
            WorkflowExecution.objects.filter(pk=self.execution.pk).update(cancel_requested=True, error=error)
            logger.error("Execution %s: %s", self.execution.pk, error)
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
            self.threads.close()
            self.lease.stop()
        return self._finish(error)

    def _park(self, position: int, outcome: SymbolOutcome) -> dict:
        """Wait for a person without holding the worker (or a lease): save where the run is and let the task end."""
        approvals.park_execution(
            execution=self.execution,
            point={**outcome.parked, "symbol": outcome.symbol, "symbol_index": position},
            results=_json_safe(self.results),
            progress_state=dict(self.progress),
        )
        return self.execution.results

    def _mark_running(self, *, taken_over: bool) -> None:
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
        progress.execution_status(execution)

    def _settle(self, claim: leases.Claim) -> dict:
        """End a run that must not go on (see leases.claim) as its claim says, keeping what it did."""
        from execution.cancel import execution_abandon  # cancel settles orders through the broker modules

        logger.warning("Execution %s ends %s without running: %s", self.execution.pk, claim.settle_status, claim.error)
        execution = execution_abandon(self.execution, claim.error, status=claim.settle_status)
        if execution.status == WorkflowExecution.Status.FAILED:
            notifications.execution_failed(execution)
        return execution.results

    def _finish(self, error: str) -> dict:
        execution = self.execution
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
        """Whether the run should stop: cancelled by its owner, or taken over by another worker."""
        lost = self.lease is not None and self.lease.lost.is_set()
        if not self.cancelled and (lost or self.execution.cancel_was_requested()):
            self.cancelled = True
        return self.cancelled

    def _wait_between_symbols(self) -> bool:
        delay = float(self.execution.params.get("symbol_delay", 0) or 0)
        if delay and not sleep_unless_cancelled(self.execution, delay):
            self.cancelled = True
        return not self.cancelled

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
        progress.symbol_started(self.execution, symbol, dict(self.progress))
        ctx = SymbolContext(
            execution=self.execution, symbol=symbol, params=self.execution.params, steps=self.steps, inputs=self.inputs
        )
        outcome = SymbolOutcome(symbol=symbol)
        resume, self.resume = self.resume, None
        if resume:
            approvals.restore_symbol_context(ctx, resume)
        self._run_graph(ctx, outcome, resume)
        if outcome.parked is not None:
            return outcome
        if outcome.broker_trouble:
            self._check_broker()
        if ctx.decision is not None:
            outcome.decision_type = ctx.decision.type
        outcome.order_placed = ctx.order is not None and not self.execution.dry_run
        return outcome

    def _run_graph(self, ctx: SymbolContext, outcome: SymbolOutcome, resume: dict | None = None) -> None:
        finished: set[int] = set(resume["finished"]) if resume else set()
        skipped: dict[str, str] = dict(resume["skipped"]) if resume else {}  # step id -> why
        pending = {node.index: node for node in self.graph if node.index not in finished}
        running: dict[Future, StepNode] = {}
        critical: BaseException | None = None
        while pending or running:
            stop = outcome.failed or outcome.parked is not None or critical is not None or self._cancel_requested()
            if not stop:
                for node in sorted(pending.values(), key=lambda item: item.index):
                    if not node.depends_on <= finished:
                        continue
                    if self.inputs.asks_for_approval and approvals.approval_needed(ctx, node.step):
                        # Nothing new starts; the steps already running finish before the run parks.
                        outcome.parked = {"step_index": node.index, "step_id": node.step_id}
                        outcome.parked["decision_id"] = ctx.decision.pk
                        break
                    del pending[node.index]
                    reason = self._skip_reason(node, skipped)
                    if reason:
                        skipped[node.step_id] = reason
                        self._record_skipped(ctx, node, reason)
                        finished.add(node.index)
                        continue
                    running[self.threads.submit(self._run_step, ctx, node)] = node
            if not running:
                if stop or not pending:
                    break
                continue  # skipping steps made others ready
            done, _ = wait(running, return_when=FIRST_COMPLETED)
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
                    outcome.errors.append(
                        {
                            "symbol": ctx.symbol,
                            "step_id": node.step_id,
                            "step_type": node.step["type"],
                            "error": str(exc),
                        }
                    )
                    continue
                finished.add(node.index)
                for step_id in output.get("skip_steps", []):
                    skipped.setdefault(step_id, f"Branch not taken at condition {node.step_id}")
        if critical is not None:
            raise critical if isinstance(critical, CriticalError) else CriticalError(f"Database error: {critical}")
        if outcome.parked is not None and not outcome.failed:
            outcome.parked.update(finished=sorted(finished), skipped=skipped)
        else:
            outcome.parked = None

    def _skip_reason(self, node: StepNode, skipped: dict[str, str]) -> str:
        if node.step_id in skipped:
            return skipped[node.step_id]
        if node.data_inputs:
            inputs = [self.steps[index]["id"] for index in node.data_inputs]
            if all(step_id in skipped for step_id in inputs):
                return f"Its inputs were skipped ({', '.join(inputs)})"
        return ""

    # --- one step ----------------------------------------------------------------

    def _run_step(self, ctx: SymbolContext, node: StepNode) -> dict:
        """Run one step; a transient failure is tried again after a backoff (see retries.py), the work done kept.

        Every attempt leaves its own StepRun, numbered per step (a redelivered execution continues the count).
        """
        attempt = StepRun.objects.filter(execution=self.execution, symbol=ctx.symbol, step_id=node.step_id).count() + 1
        retries_done = 0
        while True:
            step_run, output, failure = self._attempt_step(ctx, node, attempt)
            if (
                failure is None
                or isinstance(failure, DATABASE_GONE)
                or not retries.may_retry(failure, retries_done)
                or self._cancel_requested()
            ):
                break
            retries_done += 1
            delay = retries.retry_delay(retries_done)
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
            if not sleep_unless_cancelled(self.execution, delay):
                break
            attempt += 1
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
            with ctx.running(step, node.index):
                output = get_step(step["type"])(step["config"], ctx) or {}
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
