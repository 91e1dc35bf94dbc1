"""A backtest's report: equity against buy-and-hold, drawdown, the figures a trader reads, and the trades.

The figures are computed from the equity at each decision point (the ledger marked at the last
price) and from the ledger's executions; `ledger_equity` recomputes the final equity from the fills
alone, the check that the two agree.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from broker.models import SimulatedExecution
from broker.simulation import CENT, SimulatedExchange
from execution.backtests.calendar import DAILY, WEEKLY

PERIODS_PER_YEAR = {DAILY: 252, WEEKLY: 52}
DAYS_PER_YEAR = 365.25


def drawdowns(values: list[float]) -> list[float]:
    """At each point, how far below its highest value so far the series is (0 or negative fractions)."""
    peak, out = -math.inf, []
    for value in values:
        peak = max(peak, value)
        out.append(value / peak - 1 if peak > 0 else 0.0)
    return out


def period_returns(values: list[float]) -> list[float]:
    return [after / before - 1 for before, after in zip(values, values[1:], strict=False) if before > 0]


def sharpe(returns: list[float], periods_per_year: float) -> float | None:
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    deviation = math.sqrt(sum((value - mean) ** 2 for value in returns) / (len(returns) - 1))
    return None if deviation == 0 else mean / deviation * math.sqrt(periods_per_year)


def sortino(returns: list[float], periods_per_year: float) -> float | None:
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    downside = math.sqrt(sum(min(value, 0.0) ** 2 for value in returns) / len(returns))
    return None if downside == 0 else mean / downside * math.sqrt(periods_per_year)


def cagr(first: float, last: float, days: float) -> float | None:
    if first <= 0 or last <= 0 or days <= 0:
        return None
    return (last / first) ** (DAYS_PER_YEAR / days) - 1


@dataclass
class Trade:
    """A round trip on the ledger: from a flat position back to flat (or to the other side)."""

    symbol: str
    side: str  # long | short
    quantity: Decimal
    entry_time: datetime
    entry_price: Decimal
    exit_time: datetime | None = None
    exit_price: Decimal | None = None
    pnl: Decimal = Decimal("0")
    entry_order_id: int | None = None

    def as_dict(self, r_multiple: float | None) -> dict:
        return {
            "symbol": self.symbol, "side": self.side, "quantity": str(self.quantity),
            "entry_time": self.entry_time.isoformat(), "entry_price": str(self.entry_price),
            "exit_time": self.exit_time.isoformat() if self.exit_time else None,
            "exit_price": None if self.exit_price is None else str(self.exit_price),
            "pnl": str(self.pnl.quantize(CENT, ROUND_HALF_UP)), "r": r_multiple,
        }  # fmt: skip


def ledger_trades(account_id: str) -> list[Trade]:
    """Round trips from the ledger's executions in the order they happened (commissions in their P&L)."""
    executions = (
        SimulatedExecution.objects.filter(order__account__account_id=account_id)
        .select_related("order")
        .order_by("executed_at", "id")
    )
    held: dict[str, Decimal] = {}
    open_trades: dict[str, Trade] = {}
    entry_cost: dict[str, Decimal] = {}
    exit_value: dict[str, tuple[Decimal, Decimal]] = {}
    done: list[Trade] = []
    for execution in executions:
        order = execution.order
        signed = execution.quantity if order.side == "BUY" else -execution.quantity
        before = held.get(order.symbol, Decimal("0"))
        trade = open_trades.get(order.symbol)
        if trade is None:
            trade = Trade(
                symbol=order.symbol, side="long" if signed > 0 else "short", quantity=Decimal("0"),
                entry_time=execution.executed_at, entry_price=execution.price,
                entry_order_id=order.parent_id or order.pk,
            )  # fmt: skip
            open_trades[order.symbol], entry_cost[order.symbol] = trade, Decimal("0")
            exit_value[order.symbol] = (Decimal("0"), Decimal("0"))
        trade.pnl -= signed * execution.price + execution.commission
        if before == 0 or (before > 0) == (signed > 0):
            entry_cost[order.symbol] += abs(signed) * execution.price
            trade.quantity += abs(signed)
            trade.entry_price = (entry_cost[order.symbol] / trade.quantity).quantize(CENT, ROUND_HALF_UP)
        else:
            quantity, value = exit_value[order.symbol]
            exit_value[order.symbol] = (quantity + abs(signed), value + abs(signed) * execution.price)
        held[order.symbol] = before + signed
        if held[order.symbol] == 0:
            quantity, value = exit_value[order.symbol]
            trade.exit_time = execution.executed_at
            trade.exit_price = (value / quantity).quantize(CENT, ROUND_HALF_UP) if quantity else None
            done.append(open_trades.pop(order.symbol))
    return done + list(open_trades.values())


def ledger_equity(account_id: str, starting_cash: Decimal, exchange: SimulatedExchange, moment: datetime) -> Decimal:
    """Equity recomputed from the fills alone: cash from every fill and commission, positions at the last price."""
    cash, held = starting_cash, {}
    for execution in SimulatedExecution.objects.filter(order__account__account_id=account_id).select_related("order"):
        signed = execution.quantity if execution.order.side == "BUY" else -execution.quantity
        cash -= signed * execution.price + execution.commission
        held[execution.order.symbol] = held.get(execution.order.symbol, Decimal("0")) + signed
    marked = sum((quantity * exchange.price(symbol, moment) for symbol, quantity in held.items()), Decimal("0"))
    return (cash + marked).quantize(CENT, ROUND_HALF_UP)


def buy_and_hold(
    symbols: list[str], cash: Decimal, exchange: SimulatedExchange, points: list[datetime]
) -> list[Decimal]:
    """The value at each point of the initial cash split evenly over the symbols at the first point's prices."""
    if not points or not symbols:
        return []
    share = cash / len(symbols)
    shares = {symbol: (share / exchange.price(symbol, points[0])).to_integral_value(ROUND_FLOOR) for symbol in symbols}
    left = cash - sum((shares[symbol] * exchange.price(symbol, points[0]) for symbol in symbols), Decimal("0"))
    return [
        (left + sum((shares[s] * exchange.price(s, point) for s in symbols), Decimal("0"))).quantize(CENT)
        for point in points
    ]


def _r_multiples(backtest, trades: list[Trade]) -> list[float | None]:
    """Each trade's P&L in units of the risk its decision took (entry to stop × quantity), when it had a stop."""
    stops = {
        int(order_id): stop
        for order_id, stop in backtest.decisions.exclude(order_id="").values_list("order_id", "stop_loss")
        if stop is not None
    }
    multiples = []
    for trade in trades:
        stop = stops.get(trade.entry_order_id)
        risk = None if stop is None else abs(trade.entry_price - stop) * trade.quantity
        multiples.append(float(trade.pnl / risk) if risk else None)
    return multiples


def _rounded(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(value, places)


@dataclass(frozen=True)
class PointMark:
    """The ledger at one decision point, before that point's orders."""

    point: datetime
    equity: Decimal
    open_positions: int


def _series(points: list[datetime], values, name: str) -> list[dict]:
    return [{"time": point.isoformat(), name: value} for point, value in zip(points, values, strict=True)]


def backtest_report(
    backtest, exchange: SimulatedExchange, marks: list[PointMark], points_total: int, *, cancelled: bool
) -> dict:
    points = [mark.point for mark in marks]
    values = [float(mark.equity) for mark in marks]
    benchmark = buy_and_hold(list(backtest.symbols), backtest.initial_cash, exchange, points)
    trades = ledger_trades(backtest.ledger_account_id)
    multiples = _r_multiples(backtest, trades)
    closed = [trade for trade in trades if trade.exit_time is not None]
    closed_r = [r for trade, r in zip(trades, multiples, strict=True) if trade.exit_time is not None and r is not None]
    exposed = sum(1 for mark in marks if mark.open_positions)
    returns = period_returns(values)
    days = (points[-1] - points[0]).total_seconds() / 86400 if len(points) > 1 else 0.0
    per_year = PERIODS_PER_YEAR.get(backtest.every) or (len(points) / (days / DAYS_PER_YEAR) if days else 0.0)
    drawdown = drawdowns(values)
    final = marks[-1].equity if marks else backtest.initial_cash
    return {
        "points_done": len(marks),
        "points_total": points_total,
        "partial": cancelled,
        "note": f"Cancelled after {len(marks)} of {points_total} decision points; the figures cover those."
        if cancelled else "",
        "initial_cash": str(Decimal(backtest.initial_cash).quantize(CENT)),  # as stored, whether read back or not
        "final_equity": str(final),
        "equity_curve": _series(points, [str(mark.equity) for mark in marks], "equity"),
        "buy_and_hold": _series(points, [str(value) for value in benchmark], "equity"),
        "drawdown": _series(points, [round(value, 6) for value in drawdown], "drawdown"),
        "figures": {
            "total_return": _rounded(values[-1] / values[0] - 1 if values and values[0] else None),
            "cagr": _rounded(cagr(values[0], values[-1], days) if values else None),
            "sharpe": _rounded(sharpe(returns, per_year)),
            "sortino": _rounded(sortino(returns, per_year)),
            "max_drawdown": _rounded(min(drawdown, default=0.0)),
            "win_rate": _rounded(sum(1 for trade in closed if trade.pnl > 0) / len(closed) if closed else None),
            "average_r": _rounded(sum(closed_r) / len(closed_r) if closed_r else None),
            "exposure": _rounded(exposed / len(points) if points else None),
            "trades": len(trades),
            "buy_and_hold_return": _rounded(
                float(benchmark[-1] / benchmark[0] - 1) if benchmark and benchmark[0] else None
            ),
        },
        "trades": [trade.as_dict(_rounded(r)) for trade, r in zip(trades, multiples, strict=True)],
    }


def _difference(first, second):
    """second − first: money (strings) to the cent, figures (floats, counts) to 4 places; None when one is missing."""
    if first is None or second is None:
        return None
    if isinstance(first, str) or isinstance(second, str):
        return str((Decimal(second) - Decimal(first)).quantize(CENT, ROUND_HALF_UP))
    return _rounded(second - first) if isinstance(first, float) or isinstance(second, float) else second - first


def compared_figures(first: dict, second: dict) -> dict[str, dict]:
    """Each figure of two backtest reports and its difference (second − first), final equity included.

    A report not computed yet (a pending backtest) has no figures: its values and the differences are None.
    """
    firsts = {"final_equity": first.get("final_equity"), **(first.get("figures") or {})}
    seconds = {"final_equity": second.get("final_equity"), **(second.get("figures") or {})}
    compared = {}
    for name in dict.fromkeys([*firsts, *seconds]):
        a, b = firsts.get(name), seconds.get(name)
        compared[name] = {"a": a, "b": b, "difference": _difference(a, b)}
    return compared
