"""Transient step failures retry with exponential backoff, each attempt on record; permanent ones fail at once.

The broker is the simulated one behind an adapter that fails the way an unreachable IB Gateway does
(no gateway can exist here); the engine runs in-process (run_execution), as a worker would run it.
"""

import datetime
import signal
import threading
import time

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from agents.sandbox import SandboxBusy, SandboxUnavailable
from broker import marketdata
from broker.adapters import BrokerUnavailable, PermanentBrokerError
from broker.adapters.simulated import SimulatedAdapter
from execution.leases import suspended_point
from execution.models import StepRun, WorkflowExecution
from execution.retries import is_transient
from execution.runner import run_execution
from execution.steps import STEP_IMPLEMENTATIONS
from execution.steps.base import PermanentStepError, StepError
from tests.support.groups import GroupListener
from tests.support.runs import continuations_kept_here, run_to_end
from tests.workers import waiting_execution
from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.processes

FETCH = [{"id": "bars", "type": "fetch_data", "name": "Bars", "config": {"label": "daily"}}]


class FlakyGateway(SimulatedAdapter):
    """Fails the first `failures` history requests with `error`, then answers like the simulated exchange."""

    def __init__(self, failures: int, error: Exception):
        super().__init__()
        self.failures = failures
        self.error = error
        self.calls = 0

    def historical_bars(self, conid, symbol, period, bar):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return super().historical_bars(conid, symbol, period, bar)


@pytest.fixture
def fast_backoff(settings):
    settings.TASK_RETRY_BASE_SECONDS = 0.05
    settings.TASK_MAX_RETRIES = 3


def _fetch_execution(owner) -> WorkflowExecution:
    workflow = Workflow.objects.create(owner=owner, name="Bars only")
    workflow.current_version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=FETCH)
    workflow.save(update_fields=["current_version"])
    return waiting_execution(owner, 0, workflow=workflow)


def _gateway(monkeypatch, failures: int, error: Exception) -> FlakyGateway:
    gateway = FlakyGateway(failures, error)
    monkeypatch.setattr(marketdata, "get_adapter", lambda: gateway)
    return gateway


@pytest.mark.django_db(transaction=True)
def test_a_transient_failure_is_retried_with_backoff_and_every_attempt_is_recorded(alice, monkeypatch, fast_backoff):
    _gateway(monkeypatch, 2, BrokerUnavailable("IB Gateway not reachable"))
    execution = _fetch_execution(alice)

    run_to_end(execution.pk)

    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.COMPLETED
    runs = list(StepRun.objects.filter(execution=execution).order_by("id"))
    assert [(run.attempt, run.status) for run in runs] == [(1, "failed"), (2, "failed"), (3, "completed")]
    assert [run.output["retry_in"] for run in runs[:2]] == [0.05, 0.1]
    assert "IB Gateway not reachable" in runs[0].error and "transient" in runs[0].error
    assert runs[1].started_at >= runs[0].finished_at
    assert execution.progress["current_step"] == 1


@pytest.mark.django_db(transaction=True)
def test_it_gives_up_after_task_max_retries(alice, monkeypatch, fast_backoff):
    gateway = _gateway(monkeypatch, 99, BrokerUnavailable("IB Gateway not reachable"))
    execution = _fetch_execution(alice)

    run_to_end(execution.pk)

    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.FAILED
    assert gateway.calls == 4  # the first attempt and 3 retries
    last = StepRun.objects.filter(execution=execution).order_by("-id").first()
    assert last.attempt == 4 and last.status == "failed" and "retry_in" not in last.output


@pytest.mark.django_db(transaction=True)
def test_the_backoff_before_a_retry_holds_no_worker_the_task_returns_and_its_continuation_retries(
    alice, monkeypatch, settings
):
    settings.TASK_RETRY_BASE_SECONDS = 30
    _gateway(monkeypatch, 1, BrokerUnavailable("IB Gateway not reachable"))
    execution = _fetch_execution(alice)

    with continuations_kept_here() as sent:
        run_execution(execution.pk)  # returns at the backoff, long before the retry is due

    execution.refresh_from_db()
    point = suspended_point(execution)
    assert execution.status == WorkflowExecution.Status.RUNNING
    assert (point["kind"], point["retries"]) == ("retry", {"0": 1})
    failed = StepRun.objects.get(execution=execution)
    assert (failed.attempt, failed.status, failed.output["retry_in"]) == (1, "failed", 30)
    assert sent.call_args.kwargs["eta"] == datetime.datetime.fromisoformat(point["wake_at"]) >= failed.finished_at

    done = run_to_end(execution.pk)

    assert done.status == WorkflowExecution.Status.COMPLETED
    runs = list(StepRun.objects.filter(execution=execution).order_by("id"))
    assert [(run.attempt, run.status) for run in runs] == [(1, "failed"), (2, "completed")]
    assert (runs[1].started_at - runs[0].finished_at).total_seconds() >= 30


def _listen(group: str):
    listener = GroupListener(group)

    def received() -> list[dict]:
        events = listener.events(quiet=1)
        listener.close()
        return events

    return received


@pytest.mark.django_db(transaction=True)
def test_a_permanent_failure_fails_at_once_with_its_traceback_and_tells_the_owner(alice, monkeypatch, fast_backoff):
    gateway = _gateway(monkeypatch, 99, PermanentBrokerError("No security definition has been found", code=200))
    execution = _fetch_execution(alice)
    received = _listen(f"execution-{execution.pk}")

    run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.FAILED
    assert gateway.calls == 1
    run = StepRun.objects.get(execution=execution)
    assert run.attempt == 1 and run.status == "failed"
    assert "PermanentBrokerError" in run.detail and "No security definition" in run.error
    assert "traceback" not in run.output  # the traceback is staff's (StepRun.detail), not the owner's
    notes = [event for event in received() if event["type"] == "execution.notification"]
    assert notes and all(note["owner_id"] == alice.pk and note["level"] == "error" for note in notes)
    assert any("No security definition" in note["message"] for note in notes)


def test_it_tells_transient_from_permanent_errors_through_their_causes():
    def raised_from(outer, cause):
        try:
            raise outer from cause
        except Exception as exc:
            return exc

    assert is_transient(raised_from(StepError("fetch failed"), BrokerUnavailable("down")))
    assert is_transient(raised_from(StepError("model failed"), ConnectionResetError()))
    assert is_transient(raised_from(StepError("custom_code did not run"), SandboxBusy("the service is busy")))
    assert not is_transient(raised_from(PermanentStepError("custom_code did not run"), SandboxUnavailable("no bwrap")))
    assert not is_transient(raised_from(StepError("fetch failed"), PermanentBrokerError("bad contract")))
    assert not is_transient(raised_from(PermanentStepError("bad config"), TimeoutError()))
    assert not is_transient(StepError("no bars"))


@pytest.mark.django_db(transaction=True)
def test_a_run_past_its_soft_time_limit_fails_with_a_timeout_and_keeps_what_was_done(alice, monkeypatch):
    def slow_step(config, ctx):  # the second symbol's step takes long in the task, as a slow model call does
        if ctx.symbol == "MSFT":
            signal.setitimer(signal.ITIMER_REAL, 0.05)  # and the soft time limit strikes meanwhile
            time.sleep(1)
        return {}

    monkeypatch.setitem(STEP_IMPLEMENTATIONS, "wait", slow_step)
    execution = waiting_execution(alice, 0, symbols=("AAPL", "MSFT", "NVDA"))

    def soft_limit(signum, frame):  # what Celery's prefork pool does on the soft time limit
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, soft_limit)
    try:
        run_execution(execution.pk)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.FAILED
    assert execution.error.startswith("Timed out: the soft time limit")
    assert execution.results["symbols_processed"] == 1
    runs = StepRun.objects.filter(execution=execution)
    assert runs.filter(symbol="AAPL", status="completed").exists()
    assert not runs.filter(symbol="NVDA").exists()


@pytest.mark.django_db(transaction=True)
def test_the_engine_keeps_the_soft_time_limit_itself_and_lets_the_running_step_finish(alice, monkeypatch, settings):
    # No signal here, as on the io worker's threads pool: the engine watches the limit itself.
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 2

    def slow_step(config, ctx):
        if ctx.symbol == "AAPL":
            time.sleep(2.5)  # past the soft limit, well before the hard one
        return {}

    monkeypatch.setitem(STEP_IMPLEMENTATIONS, "wait", slow_step)
    execution = waiting_execution(alice, 0, symbols=("AAPL", "MSFT", "NVDA"))

    run_execution(execution.pk)

    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.FAILED
    assert execution.error.startswith("Timed out: the soft time limit of 2 s was reached")
    assert execution.results["symbols_processed"] == 1
    runs = StepRun.objects.filter(execution=execution)
    assert runs.get(symbol="AAPL").status == "completed"  # the step running at the limit finished
    assert not runs.exclude(symbol="AAPL").exists()  # and nothing started after it


@pytest.mark.django_db(transaction=True)
def test_a_step_still_running_at_the_hard_time_limit_is_recorded_stopped_and_the_run_fails(
    alice, monkeypatch, settings
):
    settings.CELERY_TASK_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT = 2, 3
    release = threading.Event()

    def stuck_step(config, ctx):  # a call that ignores the run's limits, until the test lets it go
        if ctx.symbol == "AAPL":
            release.wait(timeout=60)
        return {}

    monkeypatch.setitem(STEP_IMPLEMENTATIONS, "wait", stuck_step)
    execution = waiting_execution(alice, 0, symbols=("AAPL", "MSFT", "NVDA"))
    try:
        run_execution(execution.pk)
    finally:
        release.set()

    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.FAILED
    assert execution.error.startswith("Timed out: the soft time limit of 2 s was reached")
    stopped = StepRun.objects.get(execution=execution)  # AAPL's, and nothing after it
    assert stopped.status == "failed" and stopped.error.startswith("Stopped while running: Timed out")
