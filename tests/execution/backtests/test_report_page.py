"""The report page: the figures, equity and drawdown charts' data, trades and decisions; others get 404."""

import json
from datetime import date

import pytest
from django.test import Client

from execution.backtests.engine import BacktestRun
from tests.execution.backtests.conftest import new_backtest

pytestmark = pytest.mark.django_db


def test_the_owner_reads_the_report_and_another_trader_gets_404(alice, bob):
    backtest = BacktestRun(new_backtest(alice, start=date(2024, 3, 4), end=date(2024, 3, 5))).run()
    owner, other = Client(), Client()
    owner.force_login(alice)
    other.force_login(bob)
    page = owner.get(f"/backtests/{backtest.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    for label in ("CAGR", "Sharpe", "Sortino", "Max drawdown", "Win rate", "Average R", "Exposure", "Buy and hold"):
        assert f'data-metric="{label}"' in html
    assert 'data-stat-chart="backtest-equity"' in html and 'data-stat-chart="backtest-drawdown"' in html
    embedded = json.loads(html.split('id="backtest-data" type="application/json">')[1].split("</script>")[0])
    assert embedded["equity_curve"] == backtest.results["equity_curve"]
    assert html.count("data-decision") == backtest.decisions.count() == 2 * 2
    assert other.get(f"/backtests/{backtest.pk}/").status_code == 404
