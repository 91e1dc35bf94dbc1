"""The one interface every broker adapter speaks, and the values it speaks in.

Code above the adapters (steps, order services, API views) only ever sees these
dataclasses and exceptions, never ib_insync objects or simulator rows.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True)
class BrokerStatus:
    connected: bool
    authenticated: bool
    account_id: str
    paper: bool
    adapter: str
    message: str = ""


@dataclass(frozen=True)
class ContractSpec:
    """What a trader says about a contract: a symbol, and as much of the rest as tells it apart.

    Empty fields are left to the broker; a symbol listed on several exchanges then comes back
    ambiguous (AmbiguousContract) with the candidates. `expiry` is IBKR's
    lastTradeDateOrContractMonth (YYYYMM or YYYYMMDD) of a future.
    """

    symbol: str
    sec_type: str = "STK"
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    expiry: str = ""

    def describe(self) -> str:
        parts = [self.symbol, self.sec_type, self.expiry, self.exchange or self.primary_exchange, self.currency]
        return " ".join(part for part in parts if part)


@dataclass(frozen=True)
class ContractInfo:
    conid: int
    symbol: str
    exchange: str
    currency: str
    sec_type: str
    name: str
    primary_exchange: str = ""
    multiplier: str = ""  # IBKR's multiplier ("50" for an E-mini future); "" means 1
    expiry: str = ""  # lastTradeDateOrContractMonth of a future
    local_symbol: str = ""

    def describe(self) -> str:
        parts = (self.local_symbol or self.symbol, self.sec_type, self.primary_exchange or self.exchange, self.currency)
        return " ".join(part for part in parts if part)


@dataclass(frozen=True)
class Quote:
    conid: int
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal
    time: datetime
    market_data_type: str = ""  # the broker's kind of price: live, frozen, delayed, delayed_frozen ("" unknown)


@dataclass(frozen=True)
class OrderRequest:
    conid: int
    symbol: str
    side: Literal["BUY", "SELL"]
    quantity: Decimal
    order_type: Literal["LMT", "MKT"]
    limit_price: Decimal | None
    tif: Literal["DAY", "GTC"]
    order_ref: str
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None

    def validation_errors(self) -> list[str]:
        """What is wrong with this request before it reaches any broker (empty list = fine)."""
        errors = []
        if self.side not in ("BUY", "SELL"):
            errors.append(f"side must be BUY or SELL, got {self.side!r}")
        if self.order_type not in ("LMT", "MKT"):
            errors.append(f"order_type must be LMT or MKT, got {self.order_type!r}")
        if self.tif not in ("DAY", "GTC"):
            errors.append(f"tif must be DAY or GTC, got {self.tif!r}")
        if not self.quantity or self.quantity <= 0:
            errors.append(f"quantity must be positive, got {self.quantity}")
        if self.order_type == "LMT" and (self.limit_price is None or self.limit_price <= 0):
            errors.append("a LMT order needs a positive limit_price")
        if not self.order_ref:
            errors.append("order_ref is required (it is the idempotency key seen by the broker)")
        return errors


@dataclass(frozen=True)
class FillInfo:
    exec_id: str
    quantity: Decimal
    price: Decimal
    commission: Decimal
    time: datetime
    # The broker's rate from the contract's currency into the account's when it filled (1 in the
    # account's own currency); None when the broker gave none.
    exchange_rate: Decimal | None = None


@dataclass(frozen=True)
class OrderState:
    broker_order_id: str
    order_ref: str
    status: str  # one of broker.models.Order.Status values
    filled_quantity: Decimal
    avg_fill_price: Decimal | None
    fills: list[FillInfo] = field(default_factory=list)
    message: str = ""


@dataclass(frozen=True)
class BrokerPosition:
    """`average_cost` is per unit of price: IBKR's avgCost of a future includes the multiplier, the adapter divides."""

    conid: int
    symbol: str
    quantity: Decimal
    average_cost: Decimal
    currency: str = "USD"
    multiplier: str = ""  # "" means 1


@dataclass(frozen=True)
class AccountSummary:
    account_id: str
    equity: Decimal
    cash: Decimal
    paper: bool
    currency: str = "USD"
    # What one unit of each currency the account holds or trades is worth in `currency`, as the broker
    # reports it (IBKR's ExchangeRate account values); the account's own currency is 1 without an entry.
    exchange_rates: dict[str, Decimal] = field(default_factory=dict)

    def rate_to_account(self, currency: str) -> Decimal | None:
        """The broker's rate from `currency` into the account's currency; None when the broker gave none."""
        if not currency or currency == self.currency:
            return Decimal("1")
        return self.exchange_rates.get(currency)


class BrokerError(Exception):
    """A broker refused or failed; `code` is the broker's own error code when it gave one."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}" if self.code is not None else self.message


class TransientBrokerError(BrokerError):
    """Worth retrying later: timeouts, lost connectivity, pacing."""


class PermanentBrokerError(BrokerError):
    """Retrying will not help: unknown contract, rejected order, bad request."""


class BrokerUnavailable(TransientBrokerError):
    """The broker (gateway) cannot be reached; callers fail closed, never invent data."""


class AmbiguousContract(PermanentBrokerError):
    """The description fits several contracts (one ticker on several exchanges): the trader picks one."""

    def __init__(self, spec: ContractSpec, candidates: list[ContractInfo]):
        listed = "; ".join(candidate.describe() for candidate in candidates)
        super().__init__(f"{spec.describe()} matches {len(candidates)} contracts; give the exchange: {listed}")
        self.candidates = candidates


class BrokerAdapter(abc.ABC):
    """Status, contracts, bars, quotes, orders, positions and the account of one broker."""

    name: str = ""

    @abc.abstractmethod
    def status(self) -> BrokerStatus: ...

    @abc.abstractmethod
    def qualify(self, contract: str | ContractSpec) -> ContractInfo:
        """The one contract `contract` names (a string: the stock of that symbol), AmbiguousContract when it
        names several, PermanentBrokerError (code 200) when none, as an unknown symbol or an expired future."""

    @abc.abstractmethod
    def historical_bars(self, conid: int, symbol: str, period: str, bar: str) -> list[dict]:
        """Bars `{"t": ISO-8601 UTC, "o", "h", "l", "c", "v"}`, oldest first."""

    @abc.abstractmethod
    def quote(self, conid: int, symbol: str) -> Quote: ...

    @abc.abstractmethod
    def place_order(self, req: OrderRequest) -> OrderState: ...

    @abc.abstractmethod
    def cancel_order(self, broker_order_id: str) -> OrderState: ...

    @abc.abstractmethod
    def modify_order(
        self, broker_order_id: str, *, quantity: Decimal | None = None, limit_price: Decimal | None = None
    ) -> OrderState:
        """Change the quantity and/or limit price of a working order (the same order, not a new one)."""

    @abc.abstractmethod
    def order_status(self, broker_order_id: str) -> OrderState: ...

    @abc.abstractmethod
    def find_orders_by_ref(self, order_ref: str) -> list[OrderState]:
        """Open and completed orders carrying this order reference (checked before any retry)."""

    @abc.abstractmethod
    def open_orders(self) -> list[OrderState]: ...

    @abc.abstractmethod
    def positions(self) -> list[BrokerPosition]: ...

    @abc.abstractmethod
    def account_summary(self) -> AccountSummary: ...
