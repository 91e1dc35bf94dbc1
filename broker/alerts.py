"""Risk and account alerts: exposure, loss streaks, stop breaches, broker discrepancies, rejected orders.

The functions here create Alert rows and return the new ones; they tell nobody. The execution
app's notifier (`execution.notifications.publish_alerts`) sends what they return to the owners,
because broker imports no other app. An alert is raised once per `key` until someone reviews
it, so a condition that persists does not raise a new alert at every check.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from broker import adapters
from broker.adapters.base import AccountSummary, BrokerAdapter
from broker.models import Alert, Order, Position, RiskLimits, Trade
from broker.portfolio import EXPOSURE_WARNING_PCT, closed_trades, position_rows, refresh_marks, risk_report
from broker.risk import LOSS_STREAK_ALERT, consecutive_losses

logger = logging.getLogger(__name__)

# How far back a loss streak is counted; a streak longer than this is reported as this long.
STREAK_LOOKBACK = 100


def _text(value) -> str | None:
    return None if value is None else str(value)


def raise_alert(
    *,
    kind: str,
    key: str,
    message: str,
    owner=None,
    strategy=None,
    severity: str = Alert.Severity.WARNING,
    data: dict | None = None,
) -> Alert | None:
    """A new Alert, or None when an unreviewed alert with the same key is still waiting."""
    if Alert.objects.filter(key=key, reviewed=False).exists():
        return None
    alert = Alert.objects.create(
        kind=kind, key=key, message=message, owner=owner, strategy=strategy, severity=severity, data=data or {}
    )
    logger.warning("Alert %s (%s) for %s: %s", kind, severity, owner or "staff", message)
    return alert


def review_alerts(alerts: QuerySet, user) -> int:
    """Mark alerts reviewed by `user`; returns how many were still waiting."""
    return alerts.filter(reviewed=False).update(reviewed=True, reviewed_by=user, reviewed_at=timezone.now())


# --- the risk checks -------------------------------------------------------------------------


def exposure_alert(owner, report: dict) -> Alert | None:
    """Exposure above 75 % of equity (`report` is broker.portfolio.risk_report's)."""
    exposure_pct = report["exposure_pct"]
    if exposure_pct is None or exposure_pct <= EXPOSURE_WARNING_PCT:
        return None
    return raise_alert(
        kind=Alert.Kind.EXPOSURE,
        key=f"exposure:{owner.pk}",
        owner=owner,
        message=f"Exposure is {exposure_pct}% of equity, above {EXPOSURE_WARNING_PCT}%.",
        data={
            "exposure_pct": _text(exposure_pct),
            "exposure": _text(report["exposure"]),
            "equity": _text(report["equity"]),
            "threshold_pct": _text(EXPOSURE_WARNING_PCT),
        },
    )


def stop_breach_alerts(owner, account: AccountSummary | None) -> list[Alert]:
    """One alert per open position whose last price has crossed its stop."""
    alerts = []
    for row in position_rows(owner, account=account):
        if not row["stop_breached"]:
            continue
        price = row["current_price"] if row["current_price"] is not None else row["average_cost"]
        alert = raise_alert(
            kind=Alert.Kind.STOP_BREACH,
            key=f"stop_breach:{row['id']}:{row['stop_price']}",
            owner=owner,
            strategy=Position.objects.get(pk=row["id"]).strategy,
            severity=Alert.Severity.CRITICAL,
            message=f"{row['symbol']} at {price} has crossed its stop {row['stop_price']} "
            f"({row['direction']} {abs(row['quantity'])}).",
            data={
                "position_id": row["id"],
                "symbol": row["symbol"],
                "price": _text(price),
                "stop_price": _text(row["stop_price"]),
                "quantity": _text(row["quantity"]),
            },
        )
        if alert:
            alerts.append(alert)
    return alerts


def loss_streak_alerts(owner) -> list[Alert]:
    """More than three losing trades in a row, per strategy (manual trades count as one group).

    With RiskLimits.pause_after_losses on, the strategy is paused (inactive, with the reason)
    when its alert is raised, so no further automated order goes out until a person resumes it.
    """
    pause = RiskLimits.current().pause_after_losses
    alerts = []
    trades = closed_trades(owner)
    for strategy_id in set(trades.values_list("strategy_id", flat=True)):
        recent = list(
            trades.filter(strategy_id=strategy_id)
            .select_related("strategy")
            .order_by("-exit_at", "-id")[:STREAK_LOOKBACK]
        )
        streak = consecutive_losses([trade.realized_pnl or Decimal("0") for trade in reversed(recent)])
        if streak <= LOSS_STREAK_ALERT:
            continue
        strategy = recent[0].strategy
        subject = f"Strategy '{strategy.name}'" if strategy else "Manual trading"
        alert = raise_alert(
            kind=Alert.Kind.LOSS_STREAK,
            key=f"loss_streak:{owner.pk}:{strategy_id or 'manual'}:{recent[0].pk}",
            owner=owner,
            strategy=strategy,
            message=f"{subject} has {streak} consecutive losing trades (more than {LOSS_STREAK_ALERT}).",
            data={
                "consecutive_losses": streak,
                "strategy_id": strategy_id,
                "last_trade_id": recent[0].pk,
                "losses": [_text(trade.realized_pnl) for trade in recent[:streak]],
            },
        )
        if alert is None:
            continue
        if pause and strategy is not None and strategy.active:
            strategy.active = False
            strategy.paused_reason = f"Paused after {streak} consecutive losing trades ({timezone.now():%Y-%m-%d})."
            strategy.save(update_fields=["active", "paused_reason", "updated_at"])
            alert.data = {**alert.data, "strategy_paused": True}
            alert.message += " Its automated orders are paused."
            alert.save(update_fields=["data", "message"])
            logger.warning("Paused strategy %s after %d consecutive losses", strategy.pk, streak)
        alerts.append(alert)
    return alerts


def risk_alerts(owner, *, account: AccountSummary | None) -> list[Alert]:
    """Exposure, loss streak and stop breach alerts of one trader, from the positions as marked now."""
    alerts = [exposure_alert(owner, risk_report(owner, account=account))]
    alerts += stop_breach_alerts(owner, account)
    alerts += loss_streak_alerts(owner)
    return [alert for alert in alerts if alert is not None]


def traders_at_risk(owner=None) -> QuerySet:
    """`owner` alone, or (None) every trader with an open position or a closed trade."""
    users = get_user_model().objects.all()
    if owner is not None:
        return users.filter(pk=owner.pk)
    holders = Position.objects.exclude(quantity=0).values("owner")
    traders = Trade.objects.filter(exit_at__isnull=False).values("owner")
    return users.filter(pk__in=holders) | users.filter(pk__in=traders)


def check_risk(owner=None, *, adapter: BrokerAdapter | None = None) -> list[Alert]:
    """Mark the positions at the broker's prices and raise every risk alert that is due."""
    adapter = adapter or adapters.get_adapter()
    account = adapter.account_summary()
    alerts = []
    for trader in traders_at_risk(owner).distinct():
        refresh_marks(trader, adapter)
        alerts += risk_alerts(trader, account=account)
    return alerts


# --- order events ----------------------------------------------------------------------------


def order_rejected_alert(order: Order) -> Alert | None:
    """A rejected order, with the broker's (or the guard's) reason."""
    if order.status != Order.Status.REJECTED:
        return None
    return raise_alert(
        kind=Alert.Kind.ORDER_REJECTED,
        key=f"order_rejected:{order.pk}",
        owner=order.owner,
        strategy=order.strategy,
        message=f"{order.side} {order.quantity} {order.instrument.symbol} was rejected: "
        f"{order.status_message or 'no reason given'}",
        data={
            "order_id": order.pk,
            "symbol": order.instrument.symbol,
            "side": order.side,
            "quantity": _text(order.quantity),
            "reason": order.status_message,
            "execution_id": order.execution_id,
        },
    )
