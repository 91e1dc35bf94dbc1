"""Risk alerts: exposure above 75 %, more than three losses in a row (pausing when set), stop breaches."""

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from broker.alerts import check_risk, risk_alerts
from broker.models import Alert, Instrument, Position, RiskLimits, Trade
from tests.broker.conftest import usd_account
from workflows.models import Strategy

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
_conids = itertools.count(9_000_001)


def instrument(symbol):
    return Instrument.objects.create(symbol=symbol, conid=next(_conids))


def position(owner, symbol, quantity, cost, price, stop=None):
    quantity, cost, price = Decimal(quantity), Decimal(cost), Decimal(price)
    return Position.objects.create(
        owner=owner,
        instrument=instrument(symbol),
        quantity=quantity,
        average_cost=cost,
        cost_basis=quantity * cost,
        current_price=price,
        unrealized_pnl=quantity * (price - cost),
        stop_price=None if stop is None else Decimal(stop),
    )


def closed_trades(owner, strategy, pnls):
    symbol = instrument("LOSS")
    for number, pnl in enumerate(pnls):
        Trade.objects.create(
            owner=owner,
            instrument=symbol,
            strategy=strategy,
            direction=Trade.Direction.LONG,
            quantity=Decimal("1"),
            entry_price=Decimal("10"),
            entry_at=T0 + timedelta(days=number),
            exit_price=Decimal("10") + Decimal(pnl),
            exit_at=T0 + timedelta(days=number, hours=1),
            realized_pnl=Decimal(pnl),
        )


def kinds(alerts):
    return sorted(alert.kind for alert in alerts)


def test_it_alerts_when_exposure_passes_75_percent_of_equity(alice):
    position(alice, "AAA", 80, "95", "100")  # 8,000 of 10,000

    [alert] = risk_alerts(alice, account=usd_account("10000"))

    assert (alert.kind, alert.owner) == (Alert.Kind.EXPOSURE, alice)
    assert alert.data["exposure_pct"] == "80.00" and "80.00%" in alert.message


def test_it_says_nothing_at_75_percent_or_below(alice):
    position(alice, "AAA", 75, "95", "100")

    assert risk_alerts(alice, account=usd_account("10000")) == []


def test_it_alerts_when_the_price_crosses_a_long_positions_stop(alice):
    breached = position(alice, "AAA", 10, "100", "94.50", stop="95")
    position(alice, "BBB", 10, "100", "96", stop="95")

    [alert] = risk_alerts(alice, account=usd_account("1000000"))

    assert (alert.kind, alert.severity) == (Alert.Kind.STOP_BREACH, Alert.Severity.CRITICAL)
    assert alert.data["position_id"] == breached.pk and alert.data["stop_price"] == "95.000000"


def test_it_alerts_when_a_short_position_trades_above_its_stop(alice):
    position(alice, "SHRT", -10, "100", "106", stop="105")

    assert kinds(risk_alerts(alice, account=usd_account("1000000"))) == [Alert.Kind.STOP_BREACH]


def test_more_than_three_losses_in_a_row_alert_and_pause_the_strategy_when_set(alice):
    RiskLimits.objects.update_or_create(pk=1, defaults={"pause_after_losses": True})
    strategy = Strategy.objects.create(owner=alice, name="Breakout")
    closed_trades(alice, strategy, ["5", "-1", "-2", "-1", "-3"])

    [alert] = risk_alerts(alice, account=usd_account("100000"))

    strategy.refresh_from_db()
    assert (alert.kind, alert.strategy) == (Alert.Kind.LOSS_STREAK, strategy)
    assert alert.data["consecutive_losses"] == 4 and alert.data["strategy_paused"]
    assert not strategy.active and "4 consecutive losing trades" in strategy.paused_reason


def test_a_loss_streak_without_pause_after_losses_only_alerts(alice):
    strategy = Strategy.objects.create(owner=alice, name="Breakout")
    closed_trades(alice, strategy, ["-1", "-2", "-1", "-3"])

    assert kinds(risk_alerts(alice, account=usd_account("100000"))) == [Alert.Kind.LOSS_STREAK]
    strategy.refresh_from_db()
    assert strategy.active and strategy.paused_reason == ""


def test_three_losses_in_a_row_are_not_yet_a_streak(alice):
    closed_trades(alice, Strategy.objects.create(owner=alice, name="Breakout"), ["-1", "-2", "-1"])

    assert risk_alerts(alice, account=usd_account("100000")) == []


def test_a_condition_that_persists_is_alerted_once_until_reviewed(alice, staff):
    from broker.alerts import review_alerts

    position(alice, "AAA", 80, "95", "100")
    assert len(risk_alerts(alice, account=usd_account("10000"))) == 1
    assert risk_alerts(alice, account=usd_account("10000")) == []

    review_alerts(Alert.objects.all(), staff)

    assert len(risk_alerts(alice, account=usd_account("10000"))) == 1


def test_check_risk_marks_positions_at_the_brokers_price_first(alice, bob, adapter, sim_aapl):
    last = adapter.quote(sim_aapl.conid, "AAPL").last
    Position.objects.create(
        owner=alice,
        instrument=sim_aapl,
        quantity=Decimal("10"),
        average_cost=last * 2,
        cost_basis=last * 20,
        stop_price=last + 1,  # the broker's price is already below it
    )

    alerts = check_risk(None, adapter=adapter)

    assert kinds(alerts) == [Alert.Kind.STOP_BREACH]
    assert alerts[0].owner == alice and alerts[0].data["price"] == str(last.quantize(Decimal("0.000001")))
