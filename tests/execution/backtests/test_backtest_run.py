"""A backtest walks the real steps forward on point-in-time data, on its own ledger, and reports."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from broker.models import Chart, SimulatedAccount, SimulatedExecution
from broker.simulation import DEFAULT_ACCOUNT_ID
from execution.backtests.engine import BacktestRun, backtest_exchange
from execution.backtests.results import ledger_equity
from execution.models import Backtest, Decision, WorkflowExecution
from execution.tasks import run_backtest
from tests.execution.backtests.conftest import new_backtest

pytestmark = pytest.mark.django_db


def test_a_backtest_decides_at_every_point_trades_on_its_own_ledger_and_leaves_no_live_rows(alice):
    backtest = BacktestRun(new_backtest(alice)).run()
    assert backtest.status == Backtest.Status.COMPLETED, backtest.error
    results = backtest.results
    assert results["points_done"] == results["points_total"] == 6
    assert backtest.decisions.count() == 6 * 2
    assert not backtest.decisions.exclude(error="").exists()
    assert results["figures"]["trades"] > 0, "the offline analyst traded nothing: the test proves little"
    for name in ("cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "exposure"):
        assert name in results["figures"]
    assert len(results["equity_curve"]) == len(results["buy_and_hold"]) == len(results["drawdown"]) == 6
    # Nothing of the steps' own rows remains, and the live account was never touched.
    assert not WorkflowExecution.objects.exists()
    assert not Decision.objects.exists()
    assert not Chart.objects.exists()
    assert not SimulatedAccount.objects.filter(account_id=DEFAULT_ACCOUNT_ID).exists()
    assert backtest.model_calls == 6 * 2 * 2 and backtest.cost == 0


def test_the_final_equity_reconciles_with_the_fills_to_the_cent(alice):
    backtest = BacktestRun(new_backtest(alice)).run()
    executions = SimulatedExecution.objects.filter(order__account__account_id=backtest.ledger_account_id)
    assert executions.exists()
    assert executions.filter(commission__gt=0).count() == executions.count()
    last_point = datetime.fromisoformat(backtest.results["equity_curve"][-1]["time"])
    exchange = backtest_exchange(backtest)
    recomputed = ledger_equity(backtest.ledger_account_id, backtest.initial_cash, exchange, last_point)
    assert Decimal(backtest.results["final_equity"]) == recomputed


def test_the_same_backtest_twice_gives_identical_results_on_separate_ledgers(alice):
    first = BacktestRun(new_backtest(alice)).run()
    second = BacktestRun(new_backtest(alice, first.workflow)).run()
    assert first.ledger_account_id != second.ledger_account_id
    assert first.results == second.results
    fields = ("point", "symbol", "type", "status", "reference_price", "quantity", "stop_loss", "target_price")
    assert list(first.decisions.values_list(*fields)) == list(second.decisions.values_list(*fields))


def test_the_task_runs_a_pending_backtest_once(alice):
    backtest = new_backtest(alice, start=date(2024, 3, 4), end=date(2024, 3, 4))
    assert run_backtest.apply(args=[backtest.pk]).get() == {"backtest_id": backtest.pk, "status": "completed"}
    decisions = backtest.decisions.count()
    assert decisions == 2
    # A redelivered message finds it finished and leaves it as it is.
    assert run_backtest.apply(args=[backtest.pk]).get()["status"] == "completed"
    assert backtest.decisions.count() == decisions
