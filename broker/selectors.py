"""What the broker's pages read: the viewer's orders, positions and trades (staff see all)."""

from django.db.models import Count, Q, QuerySet, Sum

from broker.models import Order, Position, Trade


def orders_for(user) -> QuerySet:
    return Order.objects.select_related("instrument", "strategy", "owner").visible_to(user)


def positions_for(user) -> QuerySet:
    return Position.objects.select_related("instrument", "strategy", "owner").visible_to(user)


def trades_for(user) -> QuerySet:
    return Trade.objects.select_related("instrument", "strategy", "owner").visible_to(user)


def strategy_pnl(user, currency: str | None) -> QuerySet:
    """Realized P&L of closed trades per strategy (trades without one are grouped as manual), in the
    account's `currency` at each trade's own rate; trades without a known rate are left out."""
    return (
        trades_for(user)
        .filter(exit_at__isnull=False)
        .in_account_currency(currency)
        .converted()
        .values("strategy__name")
        .annotate(
            trades=Count("id"),
            wins=Count("id", filter=Q(realized_pnl__gt=0)),
            realized=Sum("account_pnl"),
            commission=Sum("commission"),
        )
        .order_by("-realized")
    )
