"""Reconciliation: what tradingweb intends against what the broker holds, every difference flagged.

`reconcile()` runs after a reconnect, on demand (POST /api/portfolio/reconcile/) and from a
periodic task. It never overwrites a booked position: positions that differ get needs_review
and an alert. Orders are settled from the broker where the broker knows them (an order in
needs_reconciliation whose reference the broker has is adopted with its fills; an open order the
broker has finished takes its final state), and flagged where it does not. Broker orders that
no Order row accounts for are flagged for staff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from broker import adapters
from broker.adapters.base import BrokerAdapter, BrokerError, OrderState
from broker.alerts import raise_alert
from broker.models import Alert, Order
from broker.orders import link_bracket_legs, order_refresh, record_state
from broker.portfolio import open_positions, sync_positions

logger = logging.getLogger(__name__)

# An order still pending this long after it was saved is past any submission in progress.
PENDING_GRACE = timedelta(minutes=5)


@dataclass
class Discrepancy:
    kind: str  # "position" | "order" | "unknown_broker_order"
    message: str
    owner_id: int | None = None
    order_id: int | None = None
    position_id: int | None = None
    broker_order_id: str = ""


@dataclass
class ReconciliationReport:
    checked_at: datetime
    positions_checked: int = 0
    orders_checked: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)
    settled_orders: list[int] = field(default_factory=list)  # Order ids whose state came from the broker
    alerts: list[Alert] = field(default_factory=list)  # the new alerts, for the notifier

    def as_dict(self) -> dict:
        return {
            "checked_at": self.checked_at.isoformat(),
            "positions_checked": self.positions_checked,
            "orders_checked": self.orders_checked,
            "discrepancies": [vars(discrepancy) for discrepancy in self.discrepancies],
            "settled_orders": self.settled_orders,
            "alerts": [alert.pk for alert in self.alerts],
        }

    def flag(self, discrepancy: Discrepancy, *, key: str, owner=None, strategy=None, data: dict | None = None):
        self.discrepancies.append(discrepancy)
        alert = raise_alert(
            kind=Alert.Kind.DISCREPANCY,
            key=key,
            owner=owner,
            strategy=strategy,
            message=discrepancy.message,
            data={**vars(discrepancy), **(data or {})},
        )
        if alert:
            self.alerts.append(alert)


def reconcile(owner=None, adapter: BrokerAdapter | None = None) -> ReconciliationReport:
    """Compare `owner`'s (None: everyone's) positions and open orders with the broker's and flag the differences."""
    adapter = adapter or adapters.get_adapter()
    report = ReconciliationReport(checked_at=timezone.now())
    _reconcile_positions(owner, adapter, report)
    _reconcile_orders(owner, adapter, report)
    logger.info(
        "Reconciled %s: %d positions, %d orders checked, %d discrepancies, %d orders settled",
        owner or "every owner",
        report.positions_checked,
        report.orders_checked,
        len(report.discrepancies),
        len(report.settled_orders),
    )
    return report


def _reconcile_positions(owner, adapter: BrokerAdapter, report: ReconciliationReport) -> None:
    flagged = sync_positions(owner, adapter)
    report.positions_checked = open_positions(owner).count()
    for position in flagged:
        report.flag(
            Discrepancy(
                kind="position",
                message=f"{position.instrument.symbol}: {position.review_note}",
                owner_id=position.owner_id,
                position_id=position.pk,
            ),
            key=f"discrepancy:position:{position.pk}:{position.quantity}",
            owner=position.owner,
            strategy=position.strategy,
            data={"symbol": position.instrument.symbol, "booked_quantity": str(position.quantity)},
        )


def _reconcile_orders(owner, adapter: BrokerAdapter, report: ReconciliationReport) -> None:
    broker_open = adapter.open_orders()
    open_by_id = {state.broker_order_id: state for state in broker_open}
    orders = Order.objects.filter(status__in=Order.OPEN_STATUSES).select_related("instrument", "owner", "parent")
    orders = orders.owned_by(owner)
    for order in orders.order_by("id"):
        report.orders_checked += 1
        try:
            _reconcile_order(order, adapter, open_by_id, report)
        except BrokerError as error:
            logger.warning("Reconciling order %s (%s) failed: %s", order.pk, order.idempotency_key, error)
            report.flag(
                Discrepancy(
                    kind="order",
                    message=f"Order {order.pk} ({order.idempotency_key}) could not be checked at the broker: {error}",
                    owner_id=order.owner_id,
                    order_id=order.pk,
                    broker_order_id=order.broker_order_id,
                ),
                key=f"discrepancy:order:{order.pk}:unchecked",
                owner=order.owner,
                strategy=order.strategy,
            )
    if owner is None:
        _flag_unknown_broker_orders(broker_open, report)


def _reconcile_order(order: Order, adapter: BrokerAdapter, open_by_id: dict, report: ReconciliationReport) -> None:
    before = (order.status, order.filled_quantity, order.broker_order_id)
    if order.broker_order_id:
        state = open_by_id.get(order.broker_order_id)
        if state is not None:
            order = record_state(order, state)
        else:
            # Not open at the broker any more: ask for its final state (and any fills we missed).
            order = order_refresh(order, adapter=adapter)
    elif order.parent_id:
        # A bracket's exit leg is known to the broker by its entry's reference: link it through the entry
        # (reconciled just before it, orders go oldest first).
        entry = Order.objects.get(pk=order.parent_id)
        link_bracket_legs(entry, adapter)
        order.refresh_from_db()
        if not order.broker_order_id and entry.broker_order_id and _stale_pending(order):
            report.flag(
                Discrepancy(
                    kind="order",
                    message=f"Exit leg {order.pk} of bracket order {entry.pk} ({entry.instrument.symbol}) could not "
                    "be matched with an order at the broker; check the bracket's exits.",
                    owner_id=order.owner_id,
                    order_id=order.pk,
                ),
                key=f"discrepancy:order:{order.pk}:unlinked_leg",
                owner=order.owner,
                strategy=order.strategy,
            )
    else:
        found = adapter.find_orders_by_ref(order.idempotency_key)
        if found:
            order = record_state(order, _most_filled(found))
        elif order.status == Order.Status.NEEDS_RECONCILIATION or _stale_pending(order):
            report.flag(
                Discrepancy(
                    kind="order",
                    message=f"Order {order.pk} ({order.side} {order.quantity} {order.instrument.symbol}) is "
                    f"{order.status} here, but the broker has no order with reference {order.idempotency_key}; "
                    "it was probably never placed.",
                    owner_id=order.owner_id,
                    order_id=order.pk,
                ),
                key=f"discrepancy:order:{order.pk}:missing",
                owner=order.owner,
                strategy=order.strategy,
            )
            return
    if (order.status, order.filled_quantity, order.broker_order_id) != before:
        report.settled_orders.append(order.pk)
        logger.info("Order %s settled from the broker: %s -> %s", order.pk, before[0], order.status)


def _stale_pending(order: Order) -> bool:
    return order.status == Order.Status.PENDING and order.created_at < timezone.now() - PENDING_GRACE


def _most_filled(states: list[OrderState]) -> OrderState:
    return max(states, key=lambda state: state.filled_quantity)


def _flag_unknown_broker_orders(broker_open: list[OrderState], report: ReconciliationReport) -> None:
    """Open broker orders that no Order row knows, by broker id or by reference (staff see these)."""
    known_ids = set(
        Order.objects.filter(broker_order_id__in=[state.broker_order_id for state in broker_open]).values_list(
            "broker_order_id", flat=True
        )
    )
    known_refs = set(
        Order.objects.filter(idempotency_key__in=[state.order_ref for state in broker_open]).values_list(
            "idempotency_key", flat=True
        )
    )
    for state in broker_open:
        if state.broker_order_id in known_ids or state.order_ref in known_refs:
            continue
        report.flag(
            Discrepancy(
                kind="unknown_broker_order",
                message=f"The broker has open order {state.broker_order_id} (reference {state.order_ref or 'none'}, "
                f"{state.status}) that tradingweb did not place.",
                broker_order_id=state.broker_order_id,
            ),
            key=f"discrepancy:broker_order:{state.broker_order_id}",
        )
