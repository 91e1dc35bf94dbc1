"""Portfolio numbers on known trades and positions, checked against hand-computed values."""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from broker.adapters.base import AccountSummary
from broker.models import Instrument, Position, Trade
from broker.portfolio import apply_fill, mark_to_market, portfolio_summary, position_rows, r_statistics, risk_report
from execution.models import Decision
from tests.broker.portfolio.conftest import make_fill, make_order

NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)  # a Wednesday: week from Mon 16th, month from 1st
ACCOUNT = AccountSummary(account_id="DUSIM0001", equity=D("100000"), cash=D("146000"), paper=True)


@pytest.fixture
def known_book(alice, aapl, msft):
    """Seven closed trades: +300, -100, +200, then four losses -40, -60, -20, -80.

    The +300 came from a decision with stop 90 (entry 100 × 10 shares: risk 100, so 3.0 R;
    planned 2.0 R); the -100 from a decision with stop 45 (entry 50 × 20: risk 100, so -1.0 R;
    planned 1.5 R). Open: long 100 AAPL at 150 (stop 140) and short 200 MSFT at 300 (stop 305).
    """
    winner = Decision.objects.create(instrument=aapl, type="buy", stop_loss=D(90), r_coefficient=D("2.0"))
    loser = Decision.objects.create(instrument=aapl, type="buy", stop_loss=D(45), r_coefficient=D("1.5"))
    closed = [
        (D(300), datetime(2026, 1, 10, tzinfo=UTC), winner, D(100), D(10)),
        (D(-100), datetime(2026, 2, 5, tzinfo=UTC), loser, D(50), D(20)),
        (D(200), datetime(2026, 3, 2, tzinfo=UTC), None, D(10), D(10)),
        (D(-40), datetime(2026, 3, 10, tzinfo=UTC), None, D(10), D(10)),
        (D(-60), datetime(2026, 3, 16, 9, tzinfo=UTC), None, D(10), D(10)),
        (D(-20), datetime(2026, 3, 17, tzinfo=UTC), None, D(10), D(10)),
        (D(-80), datetime(2026, 3, 18, 10, tzinfo=UTC), None, D(10), D(10)),
    ]
    for pnl, exit_at, decision, entry, quantity in closed:
        Trade.objects.create(
            owner=alice,
            instrument=aapl,
            decision=decision,
            direction="long",
            quantity=quantity,
            entry_price=entry,
            entry_at=datetime(2026, 1, 2, tzinfo=UTC),
            exit_price=entry,
            exit_at=exit_at,
            realized_pnl=pnl,
        )
    Position.objects.create(
        owner=alice, instrument=aapl, quantity=100, average_cost=150, cost_basis=15000, stop_price=140
    )
    Position.objects.create(
        owner=alice, instrument=msft, quantity=-200, average_cost=300, cost_basis=-60000, stop_price=305
    )
    mark_to_market(alice, {aapl.conid: D(160), msft.conid: D(310)})


def test_the_summary_counts_trades_and_pnl_like_the_hand_computation(alice, known_book):
    summary = portfolio_summary(alice, account=ACCOUNT, now=NOW)

    assert (summary["total_value"], summary["cash"]) == (D(100000), D(146000))
    assert summary["positions_value"] == D(16000) - D(62000)
    assert summary["realized_pnl"] == D(200)  # 300 - 100 + 200 - 40 - 60 - 20 - 80
    assert summary["unrealized_pnl"] == D(1000) - D(2000)  # 100 × (160-150) and 200 × (300-310)
    assert summary["total_pnl"] == D(-800)
    assert summary["open_positions"] == 2
    assert (summary["trades_all_time"], summary["trades_this_month"], summary["trades_this_week"]) == (7, 5, 3)
    assert summary["win_rate"] == D("28.57")  # 2 of 7
    assert (summary["average_gain"], summary["average_loss"]) == (D(250), D(-60))
    assert (summary["largest_win"], summary["largest_loss"]) == (D(300), D(-100))
    assert summary["profit_factor"] == D("1.67")  # 500 / 300
    assert summary["average_r_achieved"] == D("1.00")  # (3.0 + -1.0) / 2
    assert summary["average_r_planned"] == D("1.75")  # (2.0 + 1.5) / 2


def _round_trip(owner, instrument, quantity, entry, stop, exit_price):
    """A long trade from a decision with `stop`, booked through the fills as the broker reports them."""
    decision = Decision.objects.create(instrument=instrument, type="buy", stop_loss=D(stop), r_coefficient=D(2))
    apply_fill(make_order(owner, instrument, "BUY", quantity, decision=decision), make_fill(quantity, entry))
    apply_fill(make_order(owner, instrument, "SELL", quantity), make_fill(quantity, exit_price, minutes=30))
    return Trade.objects.filter(instrument=instrument)


def test_a_future_achieves_the_same_r_as_the_equivalent_stock_trade(alice, aapl):
    es = Instrument.objects.create(
        symbol="ES", conid=551601, exchange="CME", sec_type="FUT", multiplier="50", expiry="20261218"
    )
    # 2 ES ×50 from 5,000 with the stop 10 points below, out 20 points higher: +2,000 on a 1,000 risk.
    future = _round_trip(alice, es, 2, "5000", "4990", "5020")
    # 100 AAPL from 100 with the stop 5 below, out 10 higher: +1,000 on a 500 risk.
    stock = _round_trip(alice, aapl, 100, "100", "95", "110")

    assert future.get().realized_pnl == D(2000)
    assert r_statistics(future)["average_r_achieved"] == r_statistics(stock)["average_r_achieved"] == D("2.00")


def test_positions_show_stop_distance_gain_and_a_concentration_flag_above_20_percent(alice, known_book):
    msft_row, aapl_row = position_rows(alice, account=ACCOUNT)  # largest first

    assert aapl_row["market_value"] == D(16000) and aapl_row["concentration_pct"] == D("16.00")
    assert not aapl_row["concentrated"]
    assert aapl_row["pct_gain"] == D("6.67")  # 1000 / 15000
    assert aapl_row["distance_to_stop_pct"] == D("12.50")  # (160 - 140) / 160
    assert msft_row["direction"] == "short" and msft_row["concentration_pct"] == D("62.00")
    assert msft_row["concentrated"] and msft_row["stop_breached"]
    assert msft_row["distance_to_stop_pct"] == D("-1.61")  # (305 - 310) / 310


def test_the_risk_report_warns_of_exposure_losing_streak_breached_stop_and_concentration(alice, known_book):
    risk = risk_report(alice, account=ACCOUNT)

    assert risk["exposure"] == D(78000) and risk["exposure_pct"] == D("78.00")
    assert risk["largest_position_pct"] == D("62.00")
    assert risk["consecutive_losses"] == 4
    assert risk["average_open_r"] == D("-0.50")  # AAPL +10/10 = 1.0 R, MSFT -10/5 = -2.0 R
    warnings = " | ".join(risk["warnings"])
    assert "Exposure is 78.00% of equity, above 75%" in warnings
    assert "4 consecutive losing trades" in warnings
    assert "MSFT at 310.000000 has breached its stop 305.000000" in warnings
    assert "MSFT is 62.00% of equity, above 20%" in warnings
    assert "AAPL" not in warnings


def test_three_losses_in_a_row_are_not_yet_a_warning(alice, known_book):
    Trade.objects.filter(realized_pnl=D(-80)).update(realized_pnl=D(80))

    assert not any("consecutive" in warning for warning in risk_report(alice, account=ACCOUNT)["warnings"])
