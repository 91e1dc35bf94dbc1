"""Fills → positions and round-trip trades; marks, broker sync and the portfolio's numbers.

Accounting is average cost, in the instrument's currency. Quantities are contracts and prices
are per point, so every money amount of a future is its price difference times its multiplier
(Instrument.price_multiplier); a cost basis stays quantity × price. A position keeps its exact
signed cost basis (negative when short); a fill that reduces it releases the basis pro rata and
realizes the difference. A Trade is one round trip from flat to flat: adds raise its quantity and
average entry, partial exits add to its realized P&L and average exit, and it closes when the
position is flat again. A fill that crosses zero closes one trade and opens the opposite one with
the rest. Commissions are charged
to the trade's realized P&L when paid, so at any moment

    sum(realized P&L) + sum(unrealized P&L) == change of cash + market value of the positions.

Functions taking `owner` accept None for "every owner" (what staff see).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from broker.adapters.base import AccountSummary, BrokerError
from broker.contract_value import ExchangeRateUnknown, account_rate, contract_multiplier, instrument_unit_value
from broker.models import Fill, Instrument, Order, Position, Trade, TradeQuerySet
from broker.risk import LOSS_STREAK_ALERT, consecutive_losses

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
CENT = Decimal("0.01")
MONEY_PLACES = Decimal("0.0001")
PRICE_PLACES = Decimal("0.000001")
HUNDRED = Decimal("100")

CONCENTRATION_LIMIT_PCT = Decimal("20")
EXPOSURE_WARNING_PCT = Decimal("75")
TOP_POSITIONS = 5


# --- pure arithmetic -------------------------------------------------------------------------


@dataclass(frozen=True)
class FillEffect:
    """What one fill does to a position (quantities unsigned, position values signed)."""

    closed_quantity: Decimal
    opened_quantity: Decimal
    realized: Decimal  # gross P&L of the closed part, before commission
    quantity: Decimal  # position after the fill
    cost_basis: Decimal  # cost basis after the fill


def book_fill(quantity: Decimal, cost_basis: Decimal, signed_quantity: Decimal, price: Decimal) -> FillEffect:
    """Apply a fill of `signed_quantity` (negative = sell) at `price` to a position.

    The released basis is rounded to 1/10000 so realized P&L is exact money; the rounding stays
    in the remaining basis, and a full close releases the whole basis, so nothing is lost.
    """
    if quantity == 0 or (quantity > 0) == (signed_quantity > 0):
        return FillEffect(
            ZERO, abs(signed_quantity), ZERO, quantity + signed_quantity, cost_basis + signed_quantity * price
        )
    direction = 1 if quantity > 0 else -1
    closed = min(abs(signed_quantity), abs(quantity))
    if closed == abs(quantity):
        released = cost_basis
    else:
        released = (cost_basis * closed / abs(quantity)).quantize(MONEY_PLACES)
    realized = direction * closed * price - released
    opened = abs(signed_quantity) - closed
    new_quantity = quantity - direction * closed - direction * opened
    new_basis = cost_basis - released - direction * opened * price
    return FillEffect(closed, opened, realized, new_quantity, new_basis)


def split_commission(commission: Decimal, closed: Decimal, opened: Decimal) -> tuple[Decimal, Decimal]:
    """Commission of a reversing fill, shared pro rata between the closing and the opening part."""
    if not opened:
        return commission, ZERO
    if not closed:
        return ZERO, commission
    closing_share = (commission * closed / (closed + opened)).quantize(MONEY_PLACES)
    return closing_share, commission - closing_share


def unrealized_pnl(quantity: Decimal, cost_basis: Decimal, price: Decimal) -> Decimal:
    return (quantity * price - cost_basis).quantize(MONEY_PLACES)


def _average(total_value: Decimal, total_quantity: Decimal) -> Decimal:
    return (total_value / total_quantity).quantize(PRICE_PLACES) if total_quantity else ZERO


def _pct(part: Decimal, whole: Decimal | None) -> Decimal | None:
    if not whole:
        return None
    return (part / whole * HUNDRED).quantize(CENT)


# --- fills → positions and trades ------------------------------------------------------------


def apply_fill(order: Order, fill) -> Fill | None:
    """Book one execution (a broker FillInfo: exec_id, quantity, price, commission, time) of `order`.

    Idempotent per exec_id: a fill already booked changes nothing and returns None; otherwise
    returns the new Fill row. Positions are locked while booking, so concurrent refreshes of
    the same order cannot book a fill twice.
    """
    with transaction.atomic():
        position, _ = Position.objects.get_or_create(
            owner=order.owner, instrument=order.instrument, defaults={"strategy": order.strategy}
        )
        position = Position.objects.select_for_update().get(pk=position.pk)
        if Fill.objects.filter(exec_id=fill.exec_id).exists():
            return None
        fill_row = Fill.objects.create(
            order=order,
            exec_id=fill.exec_id,
            quantity=fill.quantity,
            price=fill.price,
            commission=fill.commission,
            filled_at=fill.time,
        )
        signed_quantity = fill.quantity if order.side == Order.Side.BUY else -fill.quantity
        was_flat = position.quantity == 0
        effect = book_fill(position.quantity, position.cost_basis, signed_quantity, fill.price)
        closing_commission, opening_commission = split_commission(
            fill.commission, effect.closed_quantity, effect.opened_quantity
        )
        trade = (
            Trade.objects.select_for_update()
            .filter(owner=order.owner, instrument=order.instrument, exit_at__isnull=True)
            .first()
        )
        if effect.closed_quantity:
            trade = trade or _trade_from_position(position, fill.time)
            _book_exit(trade, effect, fill, closing_commission, order.instrument.price_multiplier)
            trade.exchange_rate = fill.exchange_rate
            if effect.closed_quantity == abs(position.quantity):
                trade.exit_at = fill.time
            trade.save()
        if effect.opened_quantity:
            if trade is None or trade.is_closed():
                trade = _new_trade(order, signed_quantity, fill.time, fill.exchange_rate)
            _book_entry(trade, effect.opened_quantity, fill.price, opening_commission)
            trade.save()
        _update_position(position, effect, order, opened_from_flat=was_flat or effect.closed_quantity > 0)
    logger.info(
        "Booked fill %s of order %s: %s %s %s @ %s",
        fill.exec_id,
        order.pk,
        order.side,
        fill.quantity,
        order.instrument.symbol,
        fill.price,
    )
    return fill_row


def _new_trade(order: Order, signed_quantity: Decimal, time: datetime, exchange_rate: Decimal | None) -> Trade:
    return Trade(
        exchange_rate=exchange_rate,
        owner=order.owner,
        instrument=order.instrument,
        strategy=order.strategy,
        decision=order.decision,
        direction=Trade.Direction.LONG if signed_quantity > 0 else Trade.Direction.SHORT,
        quantity=ZERO,
        entry_price=ZERO,
        entry_at=time,
        realized_pnl=ZERO,
    )


def _trade_from_position(position: Position, time: datetime) -> Trade:
    """A position with no open trade (booked before trades existed): its trade starts now at its average cost."""
    logger.warning("Position %s had no open trade; opening one at its average cost", position.pk)
    return Trade.objects.create(
        owner=position.owner,
        instrument=position.instrument,
        strategy=position.strategy,
        direction=Trade.Direction.LONG if position.quantity > 0 else Trade.Direction.SHORT,
        quantity=abs(position.quantity),
        entry_price=position.average_cost,
        entry_at=time,
        realized_pnl=ZERO,
    )


def _book_entry(trade: Trade, quantity: Decimal, price: Decimal, commission: Decimal) -> None:
    trade.entry_price = _average(trade.entry_price * trade.quantity + price * quantity, trade.quantity + quantity)
    trade.quantity += quantity
    trade.commission += commission
    trade.realized_pnl = (trade.realized_pnl or ZERO) - commission


def _book_exit(trade: Trade, effect: FillEffect, fill, commission: Decimal, multiplier: Decimal) -> None:
    closed_before = trade.closed_quantity
    trade.closed_quantity = closed_before + effect.closed_quantity
    trade.exit_price = _average(
        (trade.exit_price or ZERO) * closed_before + fill.price * effect.closed_quantity, trade.closed_quantity
    )
    trade.commission += commission
    trade.realized_pnl = (trade.realized_pnl or ZERO) + effect.realized * multiplier - commission


def _update_position(position: Position, effect: FillEffect, order: Order, *, opened_from_flat: bool) -> None:
    position.quantity = effect.quantity
    position.cost_basis = effect.cost_basis
    position.average_cost = abs(_average(effect.cost_basis, effect.quantity))
    if effect.quantity == 0:
        position.stop_price = None
    elif opened_from_flat and effect.opened_quantity:
        # A new position (or the new side of a reversal) takes its stop and strategy from the order.
        position.stop_price = _decision_stop(order)
        position.strategy = order.strategy
    if position.current_price is not None:
        position.unrealized_pnl = _unrealized(position, position.current_price)
    else:
        position.unrealized_pnl = ZERO
    position.save()


def _unrealized(position: Position, price: Decimal) -> Decimal:
    return unrealized_pnl(position.quantity, position.cost_basis, price) * position.instrument.price_multiplier


def _decision_stop(order: Order) -> Decimal | None:
    return order.decision.stop_loss if order.decision_id else None


# --- marks and the broker's view -------------------------------------------------------------


def _owned(queryset: QuerySet, owner) -> QuerySet:
    return queryset if owner is None else queryset.filter(owner=owner)


def open_positions(owner) -> QuerySet:
    return _owned(Position.objects.select_related("instrument", "strategy"), owner).exclude(quantity=0)


def mark_to_market(owner, prices: Mapping[int, Decimal], data_types: Mapping[int, str] | None = None) -> Decimal:
    """Set current price and unrealized P&L of the open positions from `prices` (by conid).

    `data_types` says which kind of quote (live, delayed...) gave each price. Positions without
    a price keep their last mark. Returns the total unrealized P&L.
    """
    data_types = data_types or {}
    total = ZERO
    for position in open_positions(owner):
        price = prices.get(position.instrument.conid)
        if price is not None:
            position.current_price = price
            position.market_data_type = data_types.get(position.instrument.conid, "")
            position.unrealized_pnl = _unrealized(position, price)
            position.save(update_fields=["current_price", "market_data_type", "unrealized_pnl", "updated_at"])
        total += position.unrealized_pnl
    return total


def refresh_marks(owner, adapter) -> dict[int, Decimal]:
    """Mark the open positions at the broker's last prices; a quote that fails keeps the last mark."""
    prices, data_types = {}, {}
    for position in open_positions(owner):
        instrument = position.instrument
        try:
            quote = adapter.quote(instrument.conid, instrument.symbol)
        except BrokerError as error:
            logger.warning(
                "No quote for %s (%s), keeping the last mark: %s", instrument.symbol, instrument.conid, error
            )
            continue
        prices[instrument.conid], data_types[instrument.conid] = quote.last, quote.market_data_type
    mark_to_market(owner, prices, data_types)
    return prices


def sync_positions(owner, adapter) -> list[Position]:
    """Compare the booked positions with the broker's and flag each difference for review.

    The broker account is shared by every trader of this installation, so the broker's quantity
    is compared with the sum of all owners' booked quantities. Differences are never
    overwritten: the owner's row gets needs_review and a note saying both numbers; a row that
    agrees again is cleared. Returns the owner's rows that need review.
    """
    broker_quantities = {p.conid: p for p in adapter.positions()}
    booked = {}
    for row in Position.objects.order_by().values("instrument__conid").annotate(total=Sum("quantity")):
        booked[row["instrument__conid"]] = row["total"] or ZERO
    flagged = []
    for conid in set(broker_quantities) | {c for c, q in booked.items() if q}:
        broker_position = broker_quantities.get(conid)
        broker_quantity = broker_position.quantity if broker_position else ZERO
        booked_quantity = booked.get(conid, ZERO)
        rows = _owned(Position.objects.filter(instrument__conid=conid), owner)
        if broker_quantity == booked_quantity:
            rows.filter(needs_review=True).update(needs_review=False, review_note="", updated_at=timezone.now())
            continue
        note = (
            f"Broker holds {broker_quantity} of conid {conid}"
            + (f" at average cost {broker_position.average_cost}" if broker_position else "")
            + f"; tradingweb has booked {booked_quantity}. Checked {timezone.now():%Y-%m-%d %H:%M} UTC."
        )
        if booked_quantity == 0 and owner is not None and not rows.exists():
            # Only the broker knows this position: give the owner a flat row that carries the flag.
            instrument, _ = Instrument.objects.get_or_create(
                conid=conid, defaults={"symbol": broker_position.symbol if broker_position else str(conid)}
            )
            Position.objects.create(owner=owner, instrument=instrument)
        for position in rows:
            position.needs_review = True
            position.review_note = note
            position.save(update_fields=["needs_review", "review_note", "updated_at"])
            flagged.append(position)
        logger.warning("Position discrepancy: %s", note)
    return flagged


# --- trade statistics ------------------------------------------------------------------------


def closed_trades(owner) -> QuerySet:
    return _owned(Trade.objects.filter(exit_at__isnull=False), owner)


def trade_statistics(trades: TradeQuerySet, currency: str | None) -> dict:
    """Win rate, average win and loss, largest win and loss and profit factor of closed trades, in the
    account's `currency` at each trade's own rate; trades whose rate is unknown are left out and counted."""
    converted = trades.in_account_currency(currency)
    pnls = [pnl or ZERO for pnl in converted.converted().values_list("account_pnl", flat=True)]
    wins = [pnl for pnl in pnls if pnl > 0]
    losses = [pnl for pnl in pnls if pnl < 0]
    gross_profit = sum(wins, ZERO)
    gross_loss = -sum(losses, ZERO)
    return {
        "unconverted_trades": converted.unconverted().count(),
        "closed_trades": len(pnls),
        "wins": len(wins),
        "losses": len(losses),
        "win_rate": _pct(Decimal(len(wins)), Decimal(len(pnls))),
        "average_pnl": (sum(pnls, ZERO) / len(pnls)).quantize(CENT) if pnls else None,
        "average_gain": (gross_profit / len(wins)).quantize(CENT) if wins else None,
        "average_loss": (-gross_loss / len(losses)).quantize(CENT) if losses else None,
        "largest_win": max(wins) if wins else None,
        "largest_loss": min(losses) if losses else None,
        "gross_profit": gross_profit,
        "gross_loss": gross_loss,
        "profit_factor": (gross_profit / gross_loss).quantize(CENT) if gross_loss else None,
    }


def r_statistics(trades: QuerySet) -> dict:
    """R achieved (realized P&L over the initial risk to the decision's stop) against the planned R.

    Only trades that came from a decision with a stop count; the decision is read through the
    foreign key by field name, so broker needs no execution code. Both sides are in the instrument's
    currency, and the initial risk counts the contract's multiplier as the realized P&L does, so one R
    of an E-mini is worth as much as one R of a stock.
    """
    achieved, planned = [], []
    rows = trades.filter(decision__isnull=False).values(
        "realized_pnl",
        "entry_price",
        "quantity",
        "instrument__multiplier",
        "decision__stop_loss",
        "decision__r_coefficient",
    )
    for row in rows:
        stop = row["decision__stop_loss"]
        if stop is not None and row["entry_price"] != stop and row["quantity"]:
            per_point = contract_multiplier(row["instrument__multiplier"])
            initial_risk = abs(row["entry_price"] - stop) * row["quantity"] * per_point
            achieved.append((row["realized_pnl"] or ZERO) / initial_risk)
        if row["decision__r_coefficient"] is not None:
            planned.append(row["decision__r_coefficient"])
    return {
        "average_r_achieved": (sum(achieved, ZERO) / len(achieved)).quantize(CENT) if achieved else None,
        "average_r_planned": (sum(planned, ZERO) / len(planned)).quantize(CENT) if planned else None,
        "r_trades": len(achieved),
    }


def losing_streak(owner) -> int:
    """Consecutive losing trades, counted back from the most recently closed one."""
    pnls = closed_trades(owner).order_by("exit_at", "id").values_list("realized_pnl", flat=True)
    return consecutive_losses([pnl or ZERO for pnl in pnls])


def _period_starts(now: datetime) -> tuple[datetime, datetime]:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day.replace(day=1), day - timedelta(days=day.weekday())


# --- portfolio, positions, risk --------------------------------------------------------------
#
# Positions and trades are booked in their instrument's currency; totals, exposure and
# concentration are stated in the account's, at the broker's exchange rate (IBKR's ExchangeRate
# account values, the simulated exchange's rate table). A currency the broker gives no rate for
# is named in `missing_rates` and makes every total it would enter unknown (None), never a
# rate of 1. Without the broker's account (`account=None`) nothing is stated in its currency.


def exchange_rate(currency: str, account: AccountSummary | None) -> Decimal | None:
    """The broker's rate from `currency` into the account's currency, None when unknown."""
    if account is None:
        return None
    try:
        return account_rate(currency, account)
    except ExchangeRateUnknown:
        return None


def _sum_known(amounts: Iterable[Decimal | None]) -> Decimal | None:
    """The sum, or None when any amount is unknown."""
    total = ZERO
    for amount in amounts:
        if amount is None:
            return None
        total += amount
    return total


def missing_rates(currencies: Iterable[str], account: AccountSummary | None) -> list[str]:
    if account is None:
        return []
    return sorted({currency for currency in currencies if exchange_rate(currency, account) is None})


def realized_in_account(trades: TradeQuerySet, currency: str | None) -> Decimal | None:
    """The trades' realized P&L in the account's `currency`, each at its own rate (Trade.exchange_rate);
    None when a trade's rate is unknown."""
    converted = trades.in_account_currency(currency)
    if converted.unconverted().exists():
        return None
    return (converted.aggregate(total=Sum("account_pnl"))["total"] or ZERO).quantize(MONEY_PLACES)


def unconverted_currencies(trades: TradeQuerySet, currency: str | None) -> list[str]:
    """Currencies of the trades whose realized P&L has no rate into the account's `currency`."""
    unknown = trades.in_account_currency(currency).unconverted()
    return sorted(set(unknown.values_list("instrument__currency", flat=True)))


def realized_pnl(owner, account: AccountSummary | None) -> Decimal | None:
    """Realized P&L of every trade (partial exits and commissions of open trades included) in the
    account's currency; None when a trade's rate is unknown."""
    return realized_in_account(_owned(Trade.objects.all(), owner), account.currency if account else None)


def open_position_totals(owner, *, account: AccountSummary | None) -> dict:
    """How many positions are open, and their market value and unrealized P&L in the account's currency
    (None while a position's currency has no rate, or without the broker's account), with the
    currencies that lack a rate."""
    rows = [row for row in position_rows(owner, account=account) if row["quantity"]]
    return {
        "open_positions": len(rows),
        "positions_value": _sum_known(row["account_market_value"] for row in rows),
        "unrealized_pnl": _sum_known(row["account_unrealized_pnl"] for row in rows),
        "missing_rates": missing_rates((row["currency"] for row in rows), account),
    }


def portfolio_summary(owner, *, account: AccountSummary | None = None, now: datetime | None = None) -> dict:
    """Value, cash, P&L, open positions and trade statistics of `owner` (None = everyone).

    `account` is the broker's AccountSummary; without it, cash, total value and every amount in
    the account's currency are unknown.
    """
    now = now or timezone.now()
    month_start, week_start = _period_starts(now)
    positions = open_position_totals(owner, account=account)
    closed = closed_trades(owner)
    unrealized = positions["unrealized_pnl"]
    realized = realized_pnl(owner, account)
    currency = account.currency if account else None
    unconverted = unconverted_currencies(_owned(Trade.objects.all(), owner), currency) if account else []
    return {
        "total_value": account.equity if account else None,
        "cash": account.cash if account else None,
        "currency": account.currency if account else None,
        "paper": account.paper if account else None,
        "positions_value": positions["positions_value"],
        "realized_pnl": realized,
        "unrealized_pnl": unrealized,
        "total_pnl": None if realized is None or unrealized is None else realized + unrealized,
        "missing_rates": sorted({*positions["missing_rates"], *unconverted}),
        "open_positions": positions["open_positions"],
        "trades_all_time": closed.count(),
        "trades_this_month": closed.filter(exit_at__gte=month_start).count(),
        "trades_this_week": closed.filter(exit_at__gte=week_start).count(),
        **trade_statistics(closed, currency),
        **r_statistics(closed),
    }


def _market_value(position: Position) -> Decimal:
    """Signed market value at the last mark (average cost when never marked), in the instrument's currency."""
    price = position.current_price if position.current_price is not None else position.average_cost
    return (position.quantity * price * position.instrument.price_multiplier).quantize(MONEY_PLACES)


def _distance_to_stop_pct(position: Position, price: Decimal) -> Decimal | None:
    """How far the price may move against the position before the stop; negative = breached."""
    if position.stop_price is None or not price:
        return None
    room = price - position.stop_price if position.quantity > 0 else position.stop_price - price
    return _pct(room, price)


def position_rows(owner, *, account: AccountSummary | None) -> list[dict]:
    """Open positions (and flat ones flagged for review), largest first, with stop distance, % gain,
    and value, P&L and concentration against equity in the account's currency.

    `market_value` and `unrealized_pnl` are in the position's own `currency`; the `account_` ones
    are those at `exchange_rate` (None when the broker gave no rate).
    """
    rows = []
    equity = account.equity if account else None
    positions = _owned(Position.objects.select_related("instrument"), owner)
    for position in positions.filter(~Q(quantity=0) | Q(needs_review=True)):
        instrument = position.instrument
        price = position.current_price if position.current_price is not None else position.average_cost
        market_value = _market_value(position)
        rate = exchange_rate(instrument.currency, account)
        if rate is None:
            account_market_value = account_unrealized = None
        else:
            per_point = instrument_unit_value(instrument, account)
            account_market_value = (position.quantity * price * per_point).quantize(MONEY_PLACES)
            account_unrealized = (position.unrealized_pnl * rate).quantize(MONEY_PLACES)
        concentration = None if account_market_value is None else _pct(abs(account_market_value), equity)
        rows.append(
            {
                "id": position.pk,
                "owner": position.owner_id,
                "symbol": instrument.symbol,
                "conid": instrument.conid,
                "sec_type": instrument.sec_type,
                "currency": instrument.currency,
                "multiplier": instrument.price_multiplier,
                "exchange_rate": rate,
                "strategy": position.strategy_id,
                "direction": _direction(position.quantity),
                "quantity": position.quantity,
                "average_cost": position.average_cost,
                "current_price": position.current_price,
                "market_data_type": position.market_data_type,
                "market_value": market_value,
                "unrealized_pnl": position.unrealized_pnl,
                "account_market_value": account_market_value,
                "account_unrealized_pnl": account_unrealized,
                "pct_gain": _pct(position.unrealized_pnl, abs(position.cost_basis) * instrument.price_multiplier),
                "stop_price": position.stop_price,
                "distance_to_stop_pct": _distance_to_stop_pct(position, price),
                "stop_breached": _stop_breached(position, price),
                "concentration_pct": concentration,
                "concentrated": concentration is not None and concentration > CONCENTRATION_LIMIT_PCT,
                "needs_review": position.needs_review,
                "review_note": position.review_note,
            }
        )
    rows.sort(key=_size_in_account, reverse=True)
    return rows


def _absolute(amount: Decimal | None) -> Decimal | None:
    return None if amount is None else abs(amount)


def _size_in_account(row: dict) -> tuple[bool, Decimal]:
    """Largest first in the account's currency; rows without a rate after them, by their own value."""
    known = row["account_market_value"] is not None
    return known, abs(row["account_market_value"] if known else row["market_value"])


def _direction(quantity: Decimal) -> str:
    if quantity == 0:
        return "flat"
    return "long" if quantity > 0 else "short"


def _stop_breached(position: Position, price: Decimal) -> bool:
    if position.stop_price is None or position.quantity == 0:
        return False
    return price <= position.stop_price if position.quantity > 0 else price >= position.stop_price


def _open_r_multiple(position: Position) -> Decimal | None:
    """Open profit per share in units of the initial risk per share (entry to stop)."""
    if position.stop_price is None or position.current_price is None or position.average_cost == position.stop_price:
        return None
    direction = 1 if position.quantity > 0 else -1
    risk_per_share = direction * (position.average_cost - position.stop_price)
    if risk_per_share <= 0:  # a stop already past the entry (trailed into profit) has no initial risk left
        return None
    return direction * (position.current_price - position.average_cost) / risk_per_share


def risk_report(owner, *, account: AccountSummary | None) -> dict:
    """Exposure, concentration and the warnings a trader should act on, in the account's currency.

    Exposure is unknown (None) while a position's currency has no rate; the warnings say which.
    """
    equity = account.equity if account else None
    rows = position_rows(owner, account=account)
    exposure = _sum_known(_absolute(row["account_market_value"]) for row in rows)
    exposure_pct = None if exposure is None else _pct(exposure, equity)
    unconverted = missing_rates((row["currency"] for row in rows), account)
    r_multiples = [r for r in (_open_r_multiple(position) for position in open_positions(owner)) if r is not None]
    streak = losing_streak(owner)
    warnings = [
        f"The broker gives no {currency} to {account.currency} exchange rate: exposure is unknown."
        for currency in unconverted
    ]
    if exposure_pct is not None and exposure_pct > EXPOSURE_WARNING_PCT:
        warnings.append(f"Exposure is {exposure_pct}% of equity, above {EXPOSURE_WARNING_PCT}%.")
    if streak > LOSS_STREAK_ALERT:
        warnings.append(f"{streak} consecutive losing trades (more than {LOSS_STREAK_ALERT}).")
    for row in rows:
        if row["stop_breached"]:
            warnings.append(f"{row['symbol']} at {row['current_price']} has breached its stop {row['stop_price']}.")
        if row["concentrated"]:
            warnings.append(
                f"{row['symbol']} is {row['concentration_pct']}% of equity, above {CONCENTRATION_LIMIT_PCT}%."
            )
    return {
        "equity": equity,
        "exposure": exposure,
        "exposure_pct": exposure_pct,
        "currency": account.currency if account else None,
        "missing_rates": unconverted,
        "open_positions": len(rows),
        "average_open_r": (sum(r_multiples, ZERO) / len(r_multiples)).quantize(CENT) if r_multiples else None,
        "largest_position_pct": max(
            (row["concentration_pct"] for row in rows if row["concentration_pct"]), default=None
        ),
        "consecutive_losses": streak,
        "warnings": warnings,
        "top_positions": rows[:TOP_POSITIONS],
    }
