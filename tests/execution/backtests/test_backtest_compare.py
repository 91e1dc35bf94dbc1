"""Two backtests side by side: each figure of both and the difference b − a, in the API and on a page."""

import json
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from execution.backtests.engine import BacktestRun
from tests.execution.backtests.conftest import new_backtest

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_backtests(alice):
    """Two backtests of the same workflow over different ranges, so their figures differ."""
    first = BacktestRun(new_backtest(alice, start=date(2024, 3, 4), end=date(2024, 3, 6))).run()
    second = BacktestRun(new_backtest(alice, first.workflow, start=date(2024, 3, 4), end=date(2024, 3, 8))).run()
    assert first.results["final_equity"] != second.results["final_equity"], "equal figures prove little"
    return first, second


def test_the_api_gives_each_figure_of_both_and_the_difference(alice_api, two_backtests):
    first, second = two_backtests

    response = alice_api.get("/api/backtests/compare/", {"a": first.pk, "b": second.pk})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["a"]["id"], body["b"]["id"]) == (first.pk, second.pk)
    assert body["b"]["results"]["equity_curve"] == second.results["equity_curve"]
    equity = body["figures"]["final_equity"]
    assert (equity["a"], equity["b"]) == (first.results["final_equity"], second.results["final_equity"])
    assert Decimal(equity["difference"]) == Decimal(second.results["final_equity"]) - Decimal(
        first.results["final_equity"]
    )
    for name, value in first.results["figures"].items():
        compared = body["figures"][name]
        other = second.results["figures"][name]
        assert (compared["a"], compared["b"]) == (value, other)
        if value is None or other is None:
            assert compared["difference"] is None
        else:
            assert compared["difference"] == pytest.approx(other - value, abs=1e-4)
    assert body["figures"]["trades"]["difference"] == second.results["figures"]["trades"] - first.results[
        "figures"
    ]["trades"]


def test_a_backtest_of_another_trader_answers_404(alice_api, bob, two_backtests):
    first, _ = two_backtests
    others = new_backtest(bob, start=date(2024, 3, 4), end=date(2024, 3, 4))

    assert alice_api.get("/api/backtests/compare/", {"a": first.pk, "b": others.pk}).status_code == 404
    assert alice_api.get("/api/backtests/compare/", {"a": others.pk, "b": first.pk}).status_code == 404


def test_missing_or_invalid_ids_answer_400_with_field_errors(alice_api, two_backtests):
    first, _ = two_backtests

    missing = alice_api.get("/api/backtests/compare/", {"a": first.pk})
    invalid = alice_api.get("/api/backtests/compare/", {"a": "x", "b": "0"})

    assert missing.status_code == 400 and "b" in json.dumps(missing.json())
    assert invalid.status_code == 400
    assert "a" in json.dumps(invalid.json()) and "b" in json.dumps(invalid.json())


def test_the_page_draws_both_curves_and_the_figures_with_differences(alice, bob, two_backtests):
    first, second = two_backtests
    owner, other = Client(), Client()
    owner.force_login(alice)
    other.force_login(bob)

    page = owner.get("/backtests/compare/", {"a": first.pk, "b": second.pk})

    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-stat-chart="backtest-compare-equity"' in html
    embedded = json.loads(html.split('id="backtest-compare-data" type="application/json">')[1].split("</script>")[0])
    assert embedded["a"]["equity_curve"] == first.results["equity_curve"]
    assert embedded["b"]["equity_curve"] == second.results["equity_curve"]
    difference = Decimal(second.results["final_equity"]) - Decimal(first.results["final_equity"])
    assert f"{float(difference):+,.2f}" in html
    for label in ("Final equity", "CAGR", "Sharpe", "Max drawdown", "Trades"):
        assert f'data-figure="{label}"' in html
    assert other.get("/backtests/compare/", {"a": first.pk, "b": second.pk}).status_code == 404
    refused = owner.get("/backtests/compare/", {"a": first.pk})
    assert refused.status_code == 400 and "data-form-errors" in refused.content.decode()
    # The report page offers the other backtests of its workflow to compare with.
    report = owner.get(f"/backtests/{first.pk}/").content.decode()
    assert "data-compare-form" in report and f'<option value="{second.pk}">' in report
