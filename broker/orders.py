"""The one way an order reaches the broker: submit, cancel, refresh and poll.

Every order is saved with its unique idempotency key before the broker hears of it, and the
broker is asked for an order carrying that key (its order reference) before anything is
placed, so a retried task, a double click or a crash between "placed" and "recorded" never
places the same order twice. The kill switch, the paper/live guard and the global position
cap are checked here, for automated and manual orders alike, and a paused strategy's orders are
refused here: at the moment an order is about to go out, so they stop runs already under way.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from broker import adapters
from broker.adapters.base import (
    AccountSummary,
    BrokerAdapter,
    BrokerError,
    OrderRequest,
    OrderState,
    PermanentBrokerError,
)
from broker.contract_value import instrument_unit_value
from broker.coordination import LockTimeout, named_lock
from broker.models import Instrument, Order, Position, RiskLimits
from broker.portfolio import apply_fill

logger = logging.getLogger(__name__)

TRADING_MODES = ("paper", "live")
IBKR_PAPER_ACCOUNT_PREFIX = "DU"
FINISHED_STATUSES = (Order.Status.FILLED, Order.Status.CANCELLED, Order.Status.REJECTED)
# A bracket's exit legs are Order rows with parent=entry, keyed by the entry's key and these suffixes.
TAKE_PROFIT_SUFFIX = ":take-profit"
STOP_LOSS_SUFFIX = ":stop-loss"


class OrderRefused(Exception):
    """The order may not go to the broker; `reason` says why in words a trader can act on."""

    http_status = 403

    def __init__(self, reason: str, *, http_status: int | None = None, field: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.field = field  # the request field the reason is about, if one is
        if http_status is not None:
            self.http_status = http_status


class OrderConflict(OrderRefused):
    """The order's state forbids the request (cancelling a filled order, for instance)."""

    http_status = 409


# --- guards ----------------------------------------------------------------------------------


def account_is_paper(account: AccountSummary, adapter: BrokerAdapter) -> bool:
    """IBKR paper accounts are the ones whose id starts with DU; other adapters say so themselves."""
    if adapter.name == "ibkr":
        return account.account_id.startswith(IBKR_PAPER_ACCOUNT_PREFIX)
    return account.paper


def check_kill_switch() -> None:
    limits = RiskLimits.current()
    if limits.kill_switch:
        reason = limits.kill_switch_reason or "no reason given"
        raise OrderRefused(f"Trading is halted by the kill switch ({reason}); no order reaches the broker.")


def check_strategy_not_paused(order: Order) -> None:
    """A paused strategy (after a loss streak, or by a person) places no more orders, even from a run under way."""
    if not order.strategy_id:
        return
    strategy = type(order.strategy).objects.filter(pk=order.strategy_id).only("name", "active", "paused_reason").first()
    if strategy is not None and not strategy.active:
        why = strategy.paused_reason or "it was deactivated"
        raise OrderRefused(f"Strategy '{strategy.name}' is paused ({why}); its order was not placed.")


def check_trading_mode(order: Order, account: AccountSummary, adapter: BrokerAdapter) -> None:
    """Paper mode trades only a paper account; live mode only a live account, and only for
    strategies that allow live trading (a manual order has no strategy: its trader confirmed it
    when it entered, see ManualOrderSerializer.confirm_live)."""
    mode = settings.TRADING_MODE
    if mode not in TRADING_MODES:
        raise OrderRefused(f"TRADING_MODE is {mode!r}; it must be 'paper' or 'live'. Refusing to trade.")
    paper_account = account_is_paper(account, adapter)
    if mode == "paper" and not paper_account:
        raise OrderRefused(
            f"TRADING_MODE is paper but broker account {account.account_id} is a LIVE account; refusing to trade. "
            "Connect a paper account (ids starting with DU) or switch TRADING_MODE to live deliberately."
        )
    if mode == "live" and paper_account:
        raise OrderRefused(
            f"TRADING_MODE is live but broker account {account.account_id} is a paper account; refusing to trade."
        )
    if mode == "live" and order.strategy_id and not order.strategy.allow_live:
        raise OrderRefused(
            f"Strategy '{order.strategy.name}' does not allow live trading (allow_live is off); "
            "the order was not placed on the live account."
        )


def check_position_cap(order: Order, account: AccountSummary, price: Decimal) -> None:
    """An order that grows a position may not take it above the global cap per position."""
    held = (
        Position.objects.filter(owner=order.owner, instrument=order.instrument)
        .values_list("quantity", flat=True)
        .first()
    ) or Decimal("0")
    signed = order.quantity if order.side == Order.Side.BUY else -order.quantity
    after = held + signed
    if abs(after) <= abs(held):
        return
    limits = RiskLimits.current()
    cap = account.equity * limits.max_position_pct
    try:
        value = abs(after) * price * instrument_unit_value(order.instrument, account)
    except ValueError as exc:  # no exchange rate for its currency, a malformed multiplier
        raise OrderRefused(str(exc), http_status=400) from exc
    if value > cap:
        share = f"{value / account.equity * 100:.1f}% of " if account.equity > 0 else ""
        raise OrderRefused(
            f"The {order.instrument.symbol} position would be worth {value:.2f} ({share}equity "
            f"{account.equity:.2f}), above the cap of {limits.max_position_pct * 100:.1f}% per position ({cap:.2f}).",
            http_status=400,
        )


def _reference_price(order: Order, adapter: BrokerAdapter) -> Decimal:
    if order.order_type == Order.Type.LIMIT and order.limit_price:
        return order.limit_price
    return adapter.quote(order.instrument.conid, order.instrument.symbol).last


# --- services --------------------------------------------------------------------------------


def new_idempotency_key(prefix: str = "manual") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def order_place_manual(
    *,
    owner,
    instrument: Instrument,
    side: str,
    quantity: Decimal,
    order_type: str,
    limit_price: Decimal | None,
    tif: str,
    idempotency_key: str = "",
    adapter: BrokerAdapter | None = None,
) -> Order:
    """An explicit order by its owner; a repeated idempotency key resumes the owner's first order."""
    order = Order(
        owner=owner,
        instrument=instrument,
        side=side,
        quantity=quantity,
        order_type=order_type,
        limit_price=limit_price if order_type == Order.Type.LIMIT else None,
        tif=tif,
        idempotency_key=idempotency_key or new_idempotency_key(),
    )
    return order_submit(order, adapter=adapter)


def order_submit(
    order: Order,
    *,
    adapter: BrokerAdapter | None = None,
    take_profit: Decimal | None = None,
    stop_loss: Decimal | None = None,
) -> Order:
    """Send `order` to the broker once, whatever happens around it.

    With `take_profit` and/or `stop_loss` a new order goes out as a bracket: its exit legs are
    saved with it (child Order rows, parent=order) and placed with it as one-cancels-other
    children that the broker arms once the entry fills.

    A new order passes the guards (kill switch, paper/live, position cap) before it is saved, so
    a refused one leaves nothing behind; an unsaved order whose key is taken resumes the saved
    one. The saved row is then locked while the broker is asked for an order carrying its key
    (adopted if there is one, even after a crash between placing and recording) and only then
    placed, so concurrent or retried submissions place it once. Refusals raise OrderRefused (a
    saved order is marked rejected with the reason); broker errors propagate as BrokerError, a
    failed placement marked rejected (permanent) or needs_reconciliation (transient: the broker
    may or may not have it).
    """
    adapter = adapter or adapters.get_adapter()
    account = None
    if order.pk is None:
        saved = Order.objects.filter(idempotency_key=order.idempotency_key).first()
        if saved is None:
            account = _checked_account(order, adapter)
            order.paper = account_is_paper(account, adapter)
            try:
                with transaction.atomic():
                    order.save()
                    _save_bracket_legs(order, take_profit, stop_loss)
            except IntegrityError:  # another worker saved this key a moment ago
                saved = Order.objects.get(idempotency_key=order.idempotency_key)
                account = None
        if saved is not None:
            if saved.owner_id != order.owner_id:
                raise OrderConflict("This idempotency key belongs to another owner's order.")
            order = saved
    try:
        return _place_once(order, adapter, account)
    except OrderRefused as refusal:
        _mark(order, Order.Status.REJECTED, refusal.reason)
        raise
    except _PlacementFailed as failure:
        error = failure.__cause__
        if isinstance(error, PermanentBrokerError):
            _mark(order, Order.Status.REJECTED, f"Broker refused the order: {error}")
        else:
            _mark(order, Order.Status.NEEDS_RECONCILIATION, f"Placing failed, outcome unknown: {error}")
        raise error from None


class _PlacementFailed(Exception):
    """place_order itself failed (the cause is the BrokerError), as opposed to a look-up before it."""


def _place_once(order: Order, adapter: BrokerAdapter, account: AccountSummary | None) -> Order:
    # A lock shared by every worker rather than a row lock: the broker calls stay outside any
    # database transaction, so what the broker did is never rolled back with our own writes.
    # The wait outlasts the hold: a worker killed while holding the lock (its order perhaps already
    # at the broker) blocks its redelivered task until the lock expires, which then adopts the order
    # instead of giving up and recording it as refused.
    try:
        with named_lock(
            f"order-submit:{order.idempotency_key}",
            hold_seconds=settings.BROKER_LOCK_SECONDS,
            wait_seconds=settings.BROKER_LOCK_SECONDS + 30,
        ):
            order.refresh_from_db()
            if order.broker_order_id or order.status in FINISHED_STATUSES:
                return order
            already_there = adapter.find_orders_by_ref(order.idempotency_key)
            if already_there:
                logger.info("Order %s is already at the broker; adopting it, not placing again", order.idempotency_key)
                order = record_state(order, _most_advanced(already_there))
                link_bracket_legs(order, adapter)
                return order
            if account is None:
                account = _checked_account(order, adapter)
                order.paper = account_is_paper(account, adapter)
                order.save(update_fields=["paper", "updated_at"])
            try:
                state = adapter.place_order(_order_request(order))
            except BrokerError as error:
                raise _PlacementFailed() from error
            logger.info(
                "Placed order %s as broker order %s (%s)", order.idempotency_key, state.broker_order_id, state.status
            )
            order = record_state(order, state)
            link_bracket_legs(order, adapter)
            return order
    except LockTimeout:
        raise OrderConflict(
            f"Order {order.idempotency_key} is being submitted by another worker; try again in a minute.",
        ) from None


def _checked_account(order: Order, adapter: BrokerAdapter) -> AccountSummary:
    """The broker account, once the kill switch, the paper/live guard and the position cap allow the order."""
    try:
        check_kill_switch()
        check_strategy_not_paused(order)
        account = adapter.account_summary()
        check_trading_mode(order, account, adapter)
        check_position_cap(order, account, _reference_price(order, adapter))
    except OrderRefused as refusal:
        logger.warning("Order %s for %s refused: %s", order.idempotency_key, order.instrument.symbol, refusal.reason)
        raise
    return account


def _order_request(order: Order) -> OrderRequest:
    take_profit, stop_loss = bracket_legs(order)
    return OrderRequest(
        conid=order.instrument.conid,
        symbol=order.instrument.symbol,
        side=order.side,
        quantity=order.quantity,
        order_type=order.order_type,
        limit_price=order.limit_price,
        tif=order.tif,
        order_ref=order.idempotency_key,
        take_profit=take_profit.limit_price if take_profit else None,
        stop_loss=stop_loss.stop_price if stop_loss else None,
    )


# --- brackets --------------------------------------------------------------------------------


def _save_bracket_legs(entry: Order, take_profit: Decimal | None, stop_loss: Decimal | None) -> None:
    """The exit legs of a bracket, saved with the entry before the broker hears of either."""
    legs = (
        (TAKE_PROFIT_SUFFIX, take_profit, {"order_type": Order.Type.LIMIT, "limit_price": take_profit}),
        (STOP_LOSS_SUFFIX, stop_loss, {"order_type": Order.Type.STOP, "stop_price": stop_loss}),
    )
    for suffix, price, prices in legs:
        if price is None:
            continue
        Order.objects.create(
            owner=entry.owner,
            decision=entry.decision,
            execution=entry.execution,
            strategy=entry.strategy,
            parent=entry,
            instrument=entry.instrument,
            side=Order.Side.SELL if entry.side == Order.Side.BUY else Order.Side.BUY,
            quantity=entry.quantity,
            tif=Order.TimeInForce.GTC,
            paper=entry.paper,
            idempotency_key=entry.idempotency_key + suffix,
            **prices,
        )


def bracket_legs(entry: Order) -> tuple[Order | None, Order | None]:
    """The (take-profit, stop-loss) legs of a bracket entry; None for a leg it does not have."""
    legs = {leg.idempotency_key: leg for leg in entry.children.all()} if entry.pk else {}
    return legs.get(entry.idempotency_key + TAKE_PROFIT_SUFFIX), legs.get(entry.idempotency_key + STOP_LOSS_SUFFIX)


def link_bracket_legs(entry: Order, adapter: BrokerAdapter) -> list[Order]:
    """Give the legs of a placed bracket their broker order ids and states; returns the legs linked now.

    Both adapters place the legs right after the entry under the entry's order reference,
    take-profit first, and list open orders in placing order, so the broker's open orders with
    that reference (other than the entry) are the legs in that order. When they cannot be told
    apart (a leg already finished), the legs are left for reconciliation.
    """
    legs = [leg for leg in bracket_legs(entry) if leg is not None]
    if not legs or all(leg.broker_order_id for leg in legs):
        return []
    if entry.status in (Order.Status.REJECTED, Order.Status.CANCELLED) and not entry.filled_quantity:
        _close_unsent_legs(entry, entry.status)
        return []
    if not entry.broker_order_id:
        return []
    at_broker = [
        state
        for state in adapter.open_orders()
        if state.order_ref == entry.idempotency_key and state.broker_order_id != entry.broker_order_id
    ]
    if len(at_broker) != len(legs):
        logger.warning(
            "Bracket %s: the broker lists %d open exit legs, %d expected; leaving them to reconciliation",
            entry.idempotency_key,
            len(at_broker),
            len(legs),
        )
        return []
    return [record_state(leg, state) for leg, state in zip(legs, at_broker, strict=True) if not leg.broker_order_id]


def _close_unsent_legs(entry: Order, status: str) -> None:
    """Legs that never reached the broker share the fate of an entry that was refused or cancelled."""
    entry.children.filter(broker_order_id="", status=Order.Status.PENDING).update(
        status=status, status_message=f"The bracket's entry order was {status}", updated_at=timezone.now()
    )


def order_cancel(order: Order, *, adapter: BrokerAdapter | None = None) -> Order:
    """Cancel at the broker; a filled, cancelled or rejected order raises OrderConflict."""
    _refuse_if_finished(order)
    adapter = adapter or adapters.get_adapter()
    order = order_refresh(order, adapter=adapter)
    _refuse_if_finished(order)
    if not order.broker_order_id:
        _mark(order, Order.Status.CANCELLED, "Cancelled before it reached the broker")
        return order
    try:
        state = adapter.cancel_order(order.broker_order_id)
    except PermanentBrokerError:
        # The broker may have finished it between our refresh and the cancel: say so if it did.
        order = order_refresh(order, adapter=adapter)
        _refuse_if_finished(order)
        raise
    order = record_state(order, state)
    # The broker cancels the exit legs with their entry; bring their rows up to date.
    for leg in order.children.filter(status__in=Order.OPEN_STATUSES):
        order_refresh(leg, adapter=adapter)
    return order


def _refuse_if_finished(order: Order, action: str = "cancelled") -> None:
    if order.status in FINISHED_STATUSES:
        raise OrderConflict(f"Order {order.pk} is already {order.status}; it cannot be {action}.")


def order_modify(
    order: Order,
    *,
    quantity: Decimal | None = None,
    limit_price: Decimal | None = None,
    adapter: BrokerAdapter | None = None,
) -> Order:
    """Change the quantity and/or limit price of a working order at the broker (the same order).

    The kill switch and, when the order grows, the position cap apply as to a new order. A
    bracket changes as a whole or not at all, so its entry and legs are refused here (cancel it
    and place a new one). OrderConflict when the order's state forbids it, OrderRefused (400)
    for a change that makes no sense for it.
    """
    adapter = adapter or adapters.get_adapter()
    _refuse_if_finished(order, "modified")
    if order.parent_id or order.children.exists():
        raise OrderConflict(f"Order {order.pk} is part of a bracket; cancel it and place a new one to change it.")
    if limit_price is not None and order.order_type != Order.Type.LIMIT:
        raise OrderRefused(
            f"Order {order.pk} is a {order.order_type} order: it has no limit price.", http_status=400, field="price"
        )
    order = order_refresh(order, adapter=adapter)
    _refuse_if_finished(order, "modified")
    if not order.broker_order_id:
        raise OrderConflict(f"Order {order.pk} has not reached the broker yet; try again in a moment.")
    if quantity is not None and quantity <= order.filled_quantity:
        raise OrderRefused(
            f"Order {order.pk} has filled {order.filled_quantity:f}; the new quantity must be above that.",
            http_status=400,
            field="quantity",
        )
    check_kill_switch()
    changed = Order(
        owner=order.owner,
        instrument=order.instrument,
        side=order.side,
        quantity=quantity if quantity is not None else order.quantity,
        order_type=order.order_type,
        limit_price=limit_price if limit_price is not None else order.limit_price,
    )
    if changed.quantity > order.quantity:
        check_position_cap(changed, adapter.account_summary(), _reference_price(changed, adapter))
    state = adapter.modify_order(order.broker_order_id, quantity=quantity, limit_price=limit_price)
    logger.info(
        "Order %s modified at the broker: %s @ %s -> %s @ %s",
        order.pk, order.quantity, order.limit_price, changed.quantity, changed.limit_price,
    )  # fmt: skip
    Order.objects.filter(pk=order.pk).update(quantity=changed.quantity, limit_price=changed.limit_price)
    return record_state(order, state)


def order_refresh(order: Order, *, adapter: BrokerAdapter | None = None) -> Order:
    """Pull the status and new fills of an open order from the broker."""
    if not order.is_open():
        return order
    adapter = adapter or adapters.get_adapter()
    if order.parent_id and order.parent.is_open():
        order_refresh(order.parent, adapter=adapter)  # a bracket leg's exit books after its entry
    if order.broker_order_id:
        return record_state(order, adapter.order_status(order.broker_order_id))
    found = adapter.find_orders_by_ref(order.idempotency_key)
    if found:
        return record_state(order, _most_advanced(found))
    return order


def poll_open_orders(*, adapter: BrokerAdapter | None = None) -> dict:
    """Refresh every open order (for a periodic task); one order's failure does not stop the rest."""
    adapter = adapter or adapters.get_adapter()
    refreshed, failed = 0, 0
    open_orders = Order.objects.filter(status__in=Order.OPEN_STATUSES).select_related("instrument", "owner")
    for order in open_orders.order_by("id"):  # oldest first: a bracket's entry before its legs
        try:
            order_refresh(order, adapter=adapter)
            refreshed += 1
        except BrokerError as error:
            failed += 1
            logger.warning("Refreshing order %s (%s) failed: %s", order.pk, order.idempotency_key, error)
    return {"refreshed": refreshed, "failed": failed}


def record_state(order: Order, state: OrderState) -> Order:
    """Store what the broker says about `order` and book its new fills (idempotent per exec_id)."""
    if state.status not in Order.Status.values:
        raise PermanentBrokerError(f"Broker reported unknown status {state.status!r} for order {order.pk}")
    with transaction.atomic():
        Order.objects.select_for_update().filter(pk=order.pk).first()
        order.refresh_from_db()
        for fill in state.fills:
            apply_fill(order, fill)
        order.broker_order_id = state.broker_order_id or order.broker_order_id
        order.status = state.status
        order.filled_quantity = state.filled_quantity
        order.avg_fill_price = state.avg_fill_price
        order.commission = order.fills.aggregate(total=Sum("commission"))["total"] or Decimal("0")
        order.status_message = state.message
        order.save()
    return order


def _most_advanced(states: list[OrderState]) -> OrderState:
    """Of several broker orders carrying one reference (there should be one), the most filled."""
    return max(states, key=lambda state: (state.filled_quantity, state.status not in FINISHED_STATUSES))


def _mark(order: Order, status: str, message: str) -> None:
    order.status = status
    order.status_message = message
    order.save(update_fields=["status", "status_message", "updated_at"])
    if status in FINISHED_STATUSES:
        _close_unsent_legs(order, status)
