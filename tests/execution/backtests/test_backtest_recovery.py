"""A backtest whose worker died is never left running: the recovery sweep has it go on after its last stored
point (or end failed, saying what was kept), and no decision point is computed twice."""

import datetime
from collections import Counter
from datetime import date

import pytest
from django.utils import timezone

from execution import dispatch, leases
from execution.backtests import engine
from execution.backtests.engine import BacktestRun
from execution.backtests.services import backtest_enqueue
from execution.leases import ExecutionHeld, LeaseRenewer, recover_stranded_backtests
from execution.models import Backtest
from execution.tasks import run_backtest
from tests.execution.backtests.conftest import new_backtest

pytestmark = pytest.mark.django_db

Status = Backtest.Status
RANGE = {"start": date(2024, 3, 4), "end": date(2024, 3, 7)}  # four daily decision points


class WorkerDied(BaseException):
    """What a killed worker process leaves: nothing after this line of the run happens."""


@pytest.fixture
def decided_points(monkeypatch):
    """Every decision point the steps ran at, in every attempt (the real steps; only counted)."""
    points = []
    decide = BacktestRun._decide_and_order

    def counted(run, point, account):
        points.append(point)
        return decide(run, point, account)

    monkeypatch.setattr(BacktestRun, "_decide_and_order", counted)
    return points


def killed_at_point(backtest, monkeypatch, point_number: int) -> Backtest:
    """Runs `backtest` until its worker dies as decision point `point_number` starts; the lease then runs out."""
    account_at = engine.account_at
    seen = []

    def dies_at_that_point(exchange, moment):
        seen.append(moment)
        if len(seen) == point_number:
            raise WorkerDied
        return account_at(exchange, moment)

    backtest_enqueue(backtest)  # its message is the one the dead worker had taken
    monkeypatch.setattr(engine, "account_at", dies_at_that_point)
    with pytest.raises(WorkerDied):
        BacktestRun(backtest).run()
    monkeypatch.setattr(engine, "account_at", account_at)
    Backtest.objects.filter(pk=backtest.pk).update(lease_expires_at=timezone.now() - datetime.timedelta(seconds=5))
    backtest.refresh_from_db()
    return backtest


@pytest.fixture
def empty_queue(monkeypatch):
    """The queue as a dead worker leaves it (its message gone); what the sweep sends, a worker runs at once."""
    monkeypatch.setattr(leases, "waiting_task_ids", set)
    monkeypatch.setattr(
        dispatch, "send_backtest_run", lambda backtest_id, task_id: run_backtest.apply(args=[backtest_id])
    )


def test_the_sweep_resumes_a_backtest_whose_worker_died_after_its_last_stored_point(
    alice, monkeypatch, decided_points, empty_queue
):
    backtest = killed_at_point(new_backtest(alice, **RANGE), monkeypatch, point_number=3)
    assert backtest.status == Status.RUNNING
    assert backtest.points.count() == 2 and backtest.decisions.count() == 2 * 2
    calls_before = backtest.model_calls
    assert calls_before == 2 * 2 * 2

    assert recover_stranded_backtests() == {"resent": 1, "still_queued": 0, "unknown": 0}

    backtest.refresh_from_db()
    assert backtest.status == Status.COMPLETED, backtest.error
    assert (backtest.attempt, backtest.interruptions, backtest.lease_expires_at) == (2, 1, None)
    points = list(backtest.points.values_list("point", flat=True))
    assert len(points) == 4 and backtest.results["points_done"] == 4
    assert not [point for point, times in Counter(decided_points).items() if times > 1]
    assert sorted(decided_points) == points
    pairs = Counter(backtest.decisions.values_list("point", "symbol"))
    assert len(pairs) == 4 * 2 and set(pairs.values()) == {1}
    assert backtest.model_calls == 4 * 2 * 2, "the calls of the first run are counted once, not lost"
    # The resumed backtest reports exactly what an uninterrupted one does.
    uninterrupted = BacktestRun(new_backtest(alice, backtest.workflow, **RANGE)).run()
    assert backtest.results == uninterrupted.results
    assert recover_stranded_backtests() == {"resent": 0, "still_queued": 0, "unknown": 0}


def test_a_backtest_interrupted_too_often_fails_saying_what_was_kept(
    alice, monkeypatch, settings, decided_points, empty_queue
):
    settings.EXECUTION_MAX_INTERRUPTIONS = 1
    backtest = killed_at_point(new_backtest(alice, **RANGE), monkeypatch, point_number=2)

    assert recover_stranded_backtests()["resent"] == 1

    backtest.refresh_from_db()
    assert backtest.status == Status.FAILED
    assert backtest.error == (
        "Interrupted 1 times (its worker was lost each time); not tried again; "
        "the 1 of 4 decision points it computed are kept"
    )
    assert decided_points == [datetime.datetime(2024, 3, 5, tzinfo=datetime.UTC)]
    assert backtest.results["points_done"] == 1 and len(backtest.results["equity_curve"]) == 1
    assert backtest.completed_at is not None and backtest.lease_expires_at is None


def test_a_delivery_of_a_backtest_another_worker_runs_comes_back_after_that_lease(alice, decided_points):
    backtest = new_backtest(alice, **RANGE)
    live_until = timezone.now() + datetime.timedelta(seconds=30)
    Backtest.objects.filter(pk=backtest.pk).update(status=Status.RUNNING, attempt=1, lease_expires_at=live_until)

    with pytest.raises(ExecutionHeld) as held:
        BacktestRun(backtest).run()

    assert 29 <= held.value.retry_in <= 32
    backtest.refresh_from_db()
    assert (backtest.status, backtest.attempt, backtest.lease_expires_at) == (Status.RUNNING, 1, live_until)
    assert decided_points == []


def test_the_process_renews_a_running_backtest_lease_and_notices_when_it_was_taken_over(alice):
    backtest = new_backtest(alice, **RANGE)
    leases.claim_backtest(backtest)
    claimed_until = backtest.lease_expires_at
    renewer = LeaseRenewer.for_this_process()
    lease = renewer.hold(backtest)
    try:
        renewer.renew()
        assert Backtest.objects.get(pk=backtest.pk).lease_expires_at > claimed_until
        assert not lease.lost.is_set()
        Backtest.objects.filter(pk=backtest.pk).update(attempt=2)
        renewer.renew()
        assert lease.lost.is_set()
    finally:
        lease.release()


def test_a_backtest_cancelled_while_its_worker_died_ends_cancelled_with_its_points(
    alice, monkeypatch, decided_points, empty_queue
):
    backtest = killed_at_point(new_backtest(alice, **RANGE), monkeypatch, point_number=2)
    Backtest.objects.filter(pk=backtest.pk).update(cancel_requested=True)

    assert recover_stranded_backtests()["resent"] == 1

    backtest.refresh_from_db()
    assert backtest.status == Status.CANCELLED
    assert backtest.error == (
        "Cancelled; its worker was lost while it stopped; the 1 of 4 decision points it computed are kept"
    )
    assert len(decided_points) == 1 and backtest.results["points_done"] == 1 and backtest.results["partial"]
