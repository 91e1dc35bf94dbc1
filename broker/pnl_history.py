"""Realized P&L over time: the series the portfolio's P&L chart draws."""

from datetime import UTC
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncDate

ZERO = Decimal("0")
CENT = Decimal("0.01")


def realized_pnl_by_day(trades: QuerySet, currency: str | None) -> list[dict]:
    """Closed trades' realized P&L per UTC day of exit and its running total, oldest day first, in the
    account's `currency` at each trade's own rate (trades without a known rate are left out)."""
    days = (
        trades.filter(exit_at__isnull=False)
        .in_account_currency(currency)
        .converted()
        .annotate(day=TruncDate("exit_at", tzinfo=UTC))
        .values("day")
        .annotate(pnl=Sum("account_pnl"))
        .order_by("day")
    )
    running = ZERO
    series = []
    for row in days:
        pnl = (row["pnl"] or ZERO).quantize(CENT)
        running += pnl
        series.append({"date": row["day"].isoformat(), "pnl": pnl, "cumulative": running})
    return series
