"""What the gateway remembers about client orders and executions, in TWS terms."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from broker.adapters.base import ContractInfo, FillInfo, OrderState

# broker.models.Order.Status values -> the status strings TWS reports.
TWS_STATUS = {
    "pending": "PreSubmitted",
    "submitted": "Submitted",
    "partially_filled": "Submitted",
    "needs_reconciliation": "Submitted",
    "filled": "Filled",
    "cancelled": "Cancelled",
    "rejected": "Inactive",
}
DONE_STATUSES = {"Filled", "Cancelled", "Inactive"}


@dataclass
class OrderRecord:
    """One order placed through the gateway, keyed by (client id, order id) like TWS does."""

    client_id: int
    order_id: int
    perm_id: int
    contract: ContractInfo
    action: str
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    tif: str
    order_ref: str
    account: str
    broker_order_id: str = ""
    stop_price: Decimal | None = None
    parent_id: int = 0
    status: str = "PendingSubmit"
    filled: Decimal = Decimal("0")
    avg_fill_price: Decimal | None = None
    last_fill_price: Decimal | None = None
    completed_at: datetime | None = None
    reported_exec_ids: set[str] = field(default_factory=set)
    executed_quantity: Decimal = Decimal("0")
    executed_value: Decimal = Decimal("0")

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def is_done(self) -> bool:
        return self.status in DONE_STATUSES

    def new_fills(self, state: OrderState) -> list[FillInfo]:
        """Fills in `state` not yet reported to the client, oldest first."""
        return [fill for fill in state.fills if fill.exec_id not in self.reported_exec_ids]

    def record_fill(self, fill: FillInfo) -> "ExecutionRecord":
        """Note a fill as reported and return it with the order's running totals."""
        self.reported_exec_ids.add(fill.exec_id)
        self.executed_quantity += fill.quantity
        self.executed_value += fill.quantity * fill.price
        return ExecutionRecord(self, fill, self.executed_quantity, self.executed_value / self.executed_quantity)

    def apply(self, state: OrderState) -> bool:
        """Take the exchange's view of the order; True when anything a client sees changed."""
        status = TWS_STATUS.get(state.status, "Submitted")
        if state.filled_quantity and status == "PreSubmitted":
            status = "Submitted"
        changed = (status, state.filled_quantity, state.avg_fill_price) != (
            self.status,
            self.filled,
            self.avg_fill_price,
        )
        self.status = status
        self.filled = state.filled_quantity
        self.avg_fill_price = state.avg_fill_price
        if state.fills:
            self.last_fill_price = state.fills[-1].price
        return changed


@dataclass(frozen=True)
class ExecutionRecord:
    """One fill as reported by execDetails: the order it belongs to and the running totals."""

    order: OrderRecord
    fill: FillInfo
    cumulative_quantity: Decimal
    average_price: Decimal
