"""The IBKR adapter: ib_insync against IB Gateway / TWS.

One connection per process, with its own client id (settings.IBKR_CLIENT_ID plus a per-process
offset from a Redis counter, or from the pid without Redis). ib_insync is asyncio-based, so the
connection lives on a private event-loop thread and every call is handed to it; the adapter can
be used from any thread, the ASGI server's pool threads included. When the gateway cannot be
reached every call raises BrokerUnavailable: the adapter fails closed and never makes data up.

One view of every order (DESIGN §8): of the two designs there, a single connection owner or
the master client id with reqAllOpenOrders, this is the second, without needing the gateway's
"master API client id" setting. Every look-up (order_status, find_orders_by_ref, open_orders)
asks the gateway afresh for the open orders of all clients (reqAllOpenOrders), the completed
orders and the executions, so any process finds any order the installation placed by its
orderRef or its permId, whichever process placed it and whether that process is still alive.
IBKR lets only the client id that placed an order cancel or modify it, so those go to its
owner: the process holding that client id takes them on a Redis channel of its own
(`owner_channel`) and answers on a reply list; when no process holds it (the worker died), the
adapter connects under that client id for the one request and disconnects.

The conversions between ib_insync objects and the adapter's dataclasses are plain
functions below, so they are tested with real ib_insync objects and no gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import math
import os
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal

import redis.asyncio
from django.conf import settings

from broker.adapters.base import (
    AccountSummary,
    AmbiguousContract,
    BrokerAdapter,
    BrokerError,
    BrokerPosition,
    BrokerStatus,
    BrokerUnavailable,
    ContractInfo,
    ContractSpec,
    FillInfo,
    OrderRequest,
    OrderState,
    PermanentBrokerError,
    Quote,
    TransientBrokerError,
)
from broker.contract_value import contract_multiplier
from broker.coordination import redis_client, redis_key
from broker.models import Order
from broker.pacing import HistoricalPacer, MessageRate, tws_bar_seconds
from broker.signals import gateway_reconnected
from broker.timeframes import check_bar, parse_period


def _import_ib_insync() -> None:
    """Import ib_insync on a thread that has an event loop.

    eventkit (under ib_insync) asks for the importing thread's event loop at import time, and
    the ASGI server's pool threads (daphne runs sync views there) have none: importing there
    raised RuntimeError. A short-lived thread with a loop of its own does the first import;
    the loop eventkit keeps is only used by Event.emit_threadsafe, which nothing here calls.
    """
    if "ib_insync" in sys.modules:
        return
    failures: list[BaseException] = []

    def load() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            importlib.import_module("ib_insync")
        except BaseException as exc:  # re-raised on the importing thread
            failures.append(exc)

    loader = threading.Thread(target=load, name="ib-insync-import")
    loader.start()
    loader.join()
    if failures:
        raise failures[0]


_import_ib_insync()

from ib_insync import IB, Contract, ExecutionFilter, LimitOrder, MarketOrder, StopOrder, Trade  # noqa: E402
from ib_insync import Fill as IBFill  # noqa: E402
from ib_insync import Order as IBOrder  # noqa: E402
from ib_insync.wrapper import RequestError  # noqa: E402

logger = logging.getLogger(__name__)

DURATION_UNITS = {"d": "D", "w": "W", "m": "M", "y": "Y"}
BAR_SETTINGS = {
    "1min": "1 min",
    "2min": "2 mins",
    "5min": "5 mins",
    "15min": "15 mins",
    "30min": "30 mins",
    "1h": "1 hour",
    "4h": "4 hours",
    "1d": "1 day",
    "1w": "1 week",
    "1M": "1 month",
}
IB_STATUS = {
    "PendingSubmit": Order.Status.PENDING,
    "ApiPending": Order.Status.PENDING,
    "PreSubmitted": Order.Status.SUBMITTED,
    "Submitted": Order.Status.SUBMITTED,
    "PendingCancel": Order.Status.SUBMITTED,
    "Filled": Order.Status.FILLED,
    "Cancelled": Order.Status.CANCELLED,
    "ApiCancelled": Order.Status.CANCELLED,
    "Inactive": Order.Status.REJECTED,
}
# https://interactivebrokers.github.io/tws-api/message_codes.html
UNAVAILABLE_CODES = {502, 504, 1100, 2110}  # no connection to the gateway, or the gateway lost IB's servers
TRANSIENT_CODES = {162, 165, 166, 366, 420, 1101, 1102, 2103, 2105, 10182}  # pacing, farms, reconnects
UNSET_COMMISSION = 1e300  # IB reports "no commission yet" as the largest double
CLIENT_ID_SPAN = 900
UNACKNOWLEDGED = ("PendingSubmit", "ApiPending", "")
US_PRIMARY_EXCHANGES = ("NASDAQ", "NYSE", "ARCA", "AMEX", "BATS")
# reqMarketDataType's numbers (https://interactivebrokers.github.io/tws-api/market_data_type.html)
MARKET_DATA_TYPES = {"live": 1, "frozen": 2, "delayed": 3, "delayed_frozen": 4}
MARKET_DATA_TYPE_NAMES = {number: name for name, number in MARKET_DATA_TYPES.items()}
HISTORICAL_TIMEOUT = 120.0


def ib_contract(spec: ContractSpec) -> Contract:
    """The ib_insync Contract a spec describes: stocks routed SMART unless an exchange is given."""
    exchange = spec.exchange or ("SMART" if spec.sec_type == "STK" else "")
    return Contract(
        symbol=spec.symbol,
        secType=spec.sec_type or "STK",
        exchange=exchange,
        primaryExchange=spec.primary_exchange,
        currency=spec.currency,
        lastTradeDateOrContractMonth=spec.expiry,
    )


def contract_info(detail) -> ContractInfo:
    """ib_insync ContractDetails as the adapter's ContractInfo."""
    contract = detail.contract
    return ContractInfo(
        conid=contract.conId,
        symbol=contract.symbol,
        exchange=contract.exchange or "SMART",
        currency=contract.currency,
        sec_type=contract.secType,
        name=detail.longName or contract.symbol,
        primary_exchange=contract.primaryExchange,
        multiplier=contract.multiplier or "",
        expiry=contract.lastTradeDateOrContractMonth,
        local_symbol=contract.localSymbol,
    )


def broker_error(code: int | None, message: str) -> BrokerError:
    """IBKR's code and message as the adapter's exception: unavailable, transient or permanent."""
    if code in UNAVAILABLE_CODES:
        return BrokerUnavailable(message, code=code)
    if code in TRANSIENT_CODES:
        return TransientBrokerError(message, code=code)
    return PermanentBrokerError(message, code=code)


def duration_str(period: str) -> str:
    """ "1y" → "1 Y", "5d" → "5 D", "6m" → "6 M", "2w" → "2 W"."""
    count, unit = parse_period(period)
    return f"{count} {DURATION_UNITS[unit]}"


def bar_size_setting(bar: str) -> str:
    """ "1d" → "1 day", "5min" → "5 mins", "1w" → "1 week", "1M" → "1 month"."""
    return BAR_SETTINGS[check_bar(bar)]


def _decimal(value: float) -> Decimal:
    return Decimal(str(value))


def _utc(moment: datetime | date) -> datetime:
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def bars_from_ib(bars: Iterable) -> list[dict]:
    """ib_insync BarData as the adapter's bar dicts, oldest first."""
    converted = [
        {
            "t": _utc(bar.date).isoformat(),
            "o": float(bar.open),
            "h": float(bar.high),
            "l": float(bar.low),
            "c": float(bar.close),
            "v": float(max(bar.volume, 0)),
        }
        for bar in bars
    ]
    return sorted(converted, key=lambda bar: bar["t"])


def trade_id(trade: Trade) -> str:
    """The broker order id: IB's permanent id once known (it is the same for every client id)."""
    if trade.order.permId:
        return str(trade.order.permId)
    return f"c{trade.order.clientId}-o{trade.order.orderId}"


def _fill_info(fill: IBFill, rates: Mapping[str, Decimal]) -> FillInfo:
    """The execution as a FillInfo, with the rate of its contract's currency among the account's `rates`."""
    commission = fill.commissionReport.commission if fill.commissionReport else 0.0
    if not math.isfinite(commission) or commission > UNSET_COMMISSION:
        commission = 0.0
    return FillInfo(
        exec_id=fill.execution.execId,
        quantity=_decimal(fill.execution.shares),
        price=_decimal(fill.execution.price),
        commission=_decimal(commission),
        time=_utc(fill.time or fill.execution.time),
        exchange_rate=rates.get(fill.contract.currency or "USD"),
    )


def order_state_from_trade(
    trade: Trade, fills: list[IBFill] | None = None, rates: Mapping[str, Decimal] | None = None
) -> OrderState:
    """One ib_insync Trade as the adapter's OrderState (errors from the trade log become the message).

    `fills` are the trade's executions when they were fetched apart from it: ib_insync only
    attaches executions to the trades of this connection's own client id. `rates` are the
    account's exchange rates (fill_rates), which each fill carries for its contract's currency.
    """
    rates = rates or {}
    fills = trade.fills if fills is None else fills
    ib_status = trade.orderStatus.status
    filled = _decimal(trade.orderStatus.filled) if trade.orderStatus.filled else Decimal("0")
    if not filled and fills:
        filled = sum((_decimal(f.execution.shares) for f in fills), Decimal("0"))
    status = IB_STATUS.get(ib_status, Order.Status.SUBMITTED)
    if status == Order.Status.FILLED and not filled:
        # Completed orders from reqCompletedOrders carry their quantity on the order, not the status.
        done = trade.order.filledQuantity
        filled = _decimal(done if math.isfinite(done) and done < UNSET_COMMISSION else trade.order.totalQuantity)
    if status == Order.Status.SUBMITTED and filled > 0:
        status = Order.Status.PARTIALLY_FILLED
    errors = [entry for entry in trade.log if entry.errorCode]
    if status == Order.Status.CANCELLED and errors and not filled:
        status = Order.Status.REJECTED  # IB cancels an order it refused
    average = trade.orderStatus.avgFillPrice
    return OrderState(
        broker_order_id=trade_id(trade),
        order_ref=trade.order.orderRef,
        status=status,
        filled_quantity=filled,
        avg_fill_price=_decimal(average) if filled and average else None,
        fills=[_fill_info(fill, rates) for fill in fills],
        message="; ".join(f"[{e.errorCode}] {e.message}" for e in errors),
    )


def fills_of(trade: Trade, fills: Iterable[IBFill]) -> list[IBFill]:
    """The executions of `trade` among `fills` (by permId), or the ones ib_insync attached to it."""
    if not trade.order.permId:
        return trade.fills
    return [fill for fill in fills if fill.execution.permId == trade.order.permId] or trade.fills


def build_orders(req: OrderRequest, account: str, next_order_id: Callable[[], int]) -> list[IBOrder]:
    """The IB orders for a request: the entry, then take-profit and stop-loss children (a bracket)."""
    quantity = float(req.quantity)
    if req.order_type == "LMT":
        entry = LimitOrder(req.side, quantity, float(req.limit_price))
    else:
        entry = MarketOrder(req.side, quantity)
    exit_side = "SELL" if req.side == "BUY" else "BUY"
    children = []
    if req.take_profit is not None:
        children.append(LimitOrder(exit_side, quantity, float(req.take_profit), tif="GTC"))
    if req.stop_loss is not None:
        children.append(StopOrder(exit_side, quantity, float(req.stop_loss), tif="GTC"))
    entry.orderId = next_order_id()
    entry.tif = req.tif
    orders = [entry, *children]
    for position, order in enumerate(orders):
        order.orderRef = req.order_ref
        order.account = account
        order.transmit = position == len(orders) - 1  # the last one sends the whole bracket
        if order is not entry:
            order.orderId = next_order_id()
            order.parentId = entry.orderId
    return orders


def merge_orders_by_ref(
    order_ref: str, trades: Iterable[Trade], fills: Iterable[IBFill], rates: Mapping[str, Decimal] | None = None
) -> list[OrderState]:
    """Every order carrying `order_ref`, from open and completed trades and from executions.

    An execution whose order is in neither list still proves an order existed: it is reported
    as needs_reconciliation with what was filled.
    """
    fills = list(fills)
    rates = rates or {}
    found: dict[str, OrderState] = {}
    perm_ids = set()
    for trade in trades:
        if trade.order.orderRef != order_ref or trade.order.parentId:
            continue
        state = order_state_from_trade(trade, fills_of(trade, fills), rates)
        found.setdefault(state.broker_order_id, state)
        perm_ids.add(trade.order.permId)
    orphans: dict[int, list[IBFill]] = {}
    for fill in fills:
        if fill.execution.orderRef == order_ref and fill.execution.permId not in perm_ids:
            orphans.setdefault(fill.execution.permId, []).append(fill)
    for perm_id, executions in orphans.items():
        infos = [_fill_info(fill, rates) for fill in executions]
        quantity = sum((info.quantity for info in infos), Decimal("0"))
        value = sum((info.quantity * info.price for info in infos), Decimal("0"))
        found[str(perm_id)] = OrderState(
            broker_order_id=str(perm_id),
            order_ref=order_ref,
            status=Order.Status.NEEDS_RECONCILIATION,
            filled_quantity=quantity,
            avg_fill_price=value / quantity if quantity else None,
            fills=infos,
            message="Executions found without their order; check the order in TWS",
        )
    return list(found.values())


def account_numbers(values: Iterable, account: str) -> tuple[Decimal | None, Decimal | None, str, dict[str, Decimal]]:
    """(NetLiquidation, TotalCashValue, currency, exchange rates) from ib_insync AccountValues, in the base currency.

    The rates are IBKR's `ExchangeRate` values: what one unit of each currency is worth in the base one.
    """
    mine = [v for v in values if not account or v.account == account]
    equity, currency = None, "USD"
    for value in mine:
        if value.tag == "NetLiquidation":
            equity, currency = _decimal(float(value.value)), value.currency or currency
    cash = None
    rates: dict[str, Decimal] = {}
    for value in mine:
        if value.tag == "TotalCashValue" and value.currency in (currency, "BASE"):
            cash = _decimal(float(value.value))
        elif value.tag == "ExchangeRate" and value.currency not in ("", "BASE", currency):
            rate = _decimal(float(value.value))
            if rate > 0:
                rates[value.currency] = rate
    return equity, cash, currency, rates


def fill_rates(values: Iterable, account: str) -> dict[str, Decimal]:
    """What a fill in each currency is worth per unit in the account's: IBKR's ExchangeRate account values,
    and 1 for the account's own currency. A currency IBKR gives no rate for is absent (its fills carry None)."""
    _equity, _cash, currency, rates = account_numbers(values, account)
    return {**rates, currency: Decimal("1")}


def is_paper_account(account: str) -> bool:
    """IBKR paper accounts are DU…/DF…; anything else is real money."""
    return account.startswith("D")


def _client_id() -> int:
    """This process's client id: distinct for every worker process sharing one gateway."""
    client = redis_client()
    if client is not None:
        offset = int(client.incr(redis_key("ibkr:client-sequence"))) % CLIENT_ID_SPAN
    else:
        offset = os.getpid() % CLIENT_ID_SPAN
    return settings.IBKR_CLIENT_ID + 1 + offset


class _EventLoopThread:
    """A daemon thread running one asyncio loop that owns the IB connection."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="ibkr-event-loop", daemon=True)
        self.thread.start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        self.loop.close()

    def run(self, coroutine, timeout: float):
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        """End the loop and its thread (the loop is closed; later calls raise RuntimeError)."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)


class IBKRAdapter(BrokerAdapter):
    name = "ibkr"

    def __init__(self, *, client_id: int | None = None, pacer: HistoricalPacer | None = None):
        self.client_id = client_id or _client_id()
        self.pacer = pacer or HistoricalPacer()
        self.message_rate = MessageRate(self.pacer.rules)
        self.account = settings.IBKR_ACCOUNT
        self._runner = _EventLoopThread()
        self.ib: IB = self._runner.run(self._make_ib(self.message_rate), timeout=5)
        self._connecting = asyncio.Lock()
        self._owner_requests: asyncio.Task | None = None
        self._routes: dict[int, Contract] = {}  # conid -> the contract as orders and data requests send it
        self._has_connected = False
        self._reconnected = False  # set on the connection's loop, announced by the calling thread

    @staticmethod
    async def _make_ib(message_rate: MessageRate) -> IB:
        ib = IB()
        ib.RaiseRequestErrors = True
        share_message_rate(ib, message_rate)
        return ib

    def close(self) -> None:
        """Disconnect from the gateway, freeing the client id, and end the connection's thread.

        Safe to call twice; the adapter cannot be used afterwards (build a new one).
        """
        if not self._runner.thread.is_alive():
            return
        try:
            self._runner.run(self._disconnect(), timeout=settings.IBKR_TIMEOUT)
        finally:
            self._runner.stop()
        logger.info("Disconnected from IBKR as client %s", self.client_id)

    async def _disconnect(self) -> None:
        if self._owner_requests is not None:
            self._owner_requests.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._owner_requests
        self.ib.disconnect()
        await asyncio.sleep(0)  # let the transport finish closing before the loop stops

    # plumbing

    async def _connected(self) -> IB:
        async with self._connecting:
            if not self.ib.isConnected():
                try:
                    await self.ib.connectAsync(
                        settings.IBKR_HOST,
                        settings.IBKR_PORT,
                        clientId=self.client_id,
                        timeout=settings.IBKR_TIMEOUT,
                        readonly=settings.IBKR_READONLY,
                        account=self.account,
                    )
                except (OSError, TimeoutError) as exc:
                    raise BrokerUnavailable(
                        f"IB Gateway at {settings.IBKR_HOST}:{settings.IBKR_PORT} (client id {self.client_id}) "
                        f"is unreachable: {exc or type(exc).__name__}",
                        code=502,
                    ) from exc
                if not self.account:
                    accounts = self.ib.managedAccounts()
                    self.account = accounts[0] if accounts else ""
                self.ib.reqMarketDataType(MARKET_DATA_TYPES[settings.IBKR_MARKET_DATA_TYPE])
                logger.info("Connected to IBKR as client %s, account %s", self.client_id, self.account)
                self._reconnected = self._has_connected
                self._has_connected = True
            if self._owner_requests is None or self._owner_requests.done():
                self._owner_requests = await self._serve_owner_requests()
        return self.ib

    def _call(self, work: Callable, timeout: float | None = None):
        """Run `work(ib)` (a coroutine function) on the connection's loop, mapping IB errors."""
        timeout = timeout or settings.IBKR_TIMEOUT * 3

        async def task():
            ib = await self._connected()
            return await work(ib)

        try:
            return self._runner.run(task(), timeout)
        except RequestError as exc:
            raise broker_error(exc.code, exc.message) from exc
        except TimeoutError as exc:
            raise TransientBrokerError(f"IBKR did not answer within {timeout:.0f}s") from exc
        except ConnectionError as exc:
            raise BrokerUnavailable(f"Connection to IB Gateway lost: {exc}", code=504) from exc
        finally:
            self._announce_reconnect()

    def _announce_reconnect(self) -> None:
        """Tell the app (broker.signals) once after a reconnect, from this thread, not the connection's loop."""
        if self._reconnected:
            self._reconnected = False
            logger.warning("Reconnected to IBKR as client %s after losing the connection", self.client_id)
            for receiver, error in gateway_reconnected.send_robust(sender=type(self), adapter=self):
                if isinstance(error, Exception):
                    logger.error("After the IBKR reconnect, %s failed: %r", receiver.__qualname__, error)

    def _connect_now(self) -> None:
        """Connect (if needed) so the account is known; raises BrokerUnavailable when it cannot."""
        self._call(lambda ib: _result(None))

    async def _routed(self, ib: IB, conid: int, symbol: str) -> Contract:
        """The contract by its id, routed where IBKR trades it (SMART for stocks, IDEALPRO for FX, CME...).

        The gateway's contract details say where, once per contract and process (no database here:
        a forked worker must not use its parent's connection).
        """
        if conid not in self._routes:
            try:
                details = await ib.reqContractDetailsAsync(Contract(conId=conid))
            except RequestError:
                details = []
            if len(details) == 1:
                contract = details[0].contract
                if contract.secType == "STK":
                    contract.exchange = "SMART"
            else:  # the gateway cannot say: a US stock, as IBKR's SMART routing takes it
                contract = Contract(conId=conid, symbol=symbol, secType="STK", exchange="SMART", currency="USD")
            self._routes[conid] = contract
        return self._routes[conid]

    def _fill_rates(self, ib: IB) -> dict[str, Decimal]:
        """The account's exchange rates as the gateway streams them (reqAccountUpdates, kept by ib_insync),
        read when a fill is reported: the rate a fill in another currency is booked at."""
        return fill_rates(ib.accountValues(self.account), self.account)

    # every order of the installation

    async def _every_order(self, ib: IB) -> tuple[list[Trade], list[IBFill]]:
        """Every order the account has today, whichever client id placed it, and its executions.

        Open orders of all clients come fresh from reqAllOpenOrders; then this client's own
        trades (ib_insync keeps those in sync); then completed orders. ib_insync does not keep
        other clients' trades in sync, so a stale copy of one is never preferred to the fresh list.
        """
        open_now = await ib.reqAllOpenOrdersAsync()
        own = [trade for trade in ib.trades() if trade.order.clientId == self.client_id]
        completed = await ib.reqCompletedOrdersAsync(apiOnly=False)
        fills = await ib.reqExecutionsAsync(ExecutionFilter())
        return [*open_now, *own, *completed], fills

    async def _locate(self, ib: IB, broker_order_id: str) -> tuple[Trade, list[IBFill]]:
        """The order with this broker id (its permId) and its executions, or PermanentBrokerError."""
        trades, fills = await self._every_order(ib)
        for trade in trades:
            # An id recorded before the permId was known names the order by client and order id.
            if broker_order_id in (trade_id(trade), f"c{trade.order.clientId}-o{trade.order.orderId}"):
                return trade, fills_of(trade, fills)
        raise PermanentBrokerError(f"Order {broker_order_id} is unknown to IBKR: no open or completed order has it")

    async def _own_operation(self, ib: IB, operation: str, broker_order_id: str, changes: dict) -> OrderState:
        """Cancel or modify an order placed under this client id (IBKR lets no other client id do it)."""
        trade, _ = await self._locate(ib, broker_order_id)
        if trade.order.clientId != self.client_id:
            raise _OwnedElsewhere(trade.order.clientId)
        if trade.isDone():
            verb = "cancelled" if operation == "cancel" else "modified"
            raise PermanentBrokerError(
                f"Order {broker_order_id} cannot be {verb}: it is {trade.orderStatus.status}", code=161
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.IBKR_TIMEOUT
        if operation == "cancel":
            ib.cancelOrder(trade.order)
            while not trade.isDone() and loop.time() < deadline:
                await asyncio.sleep(0.05)
        elif operation == "modify":
            self._check_modification(trade, broker_order_id, changes)
            if changes.get("quantity") is not None:
                trade.order.totalQuantity = float(changes["quantity"])
            if changes.get("limit_price") is not None:
                trade.order.lmtPrice = float(changes["limit_price"])
            ib.placeOrder(trade.contract, trade.order)  # the same order id: TWS modifies the order
            # ib_insync logs "Modify" and then what the gateway answered (its status, or the refusal).
            while trade.log[-1].message == "Modify" and loop.time() < deadline:
                await asyncio.sleep(0.05)
            if trade.log[-1].message == "Modify":
                raise TransientBrokerError(f"IBKR did not confirm the change to order {broker_order_id} in time")
        else:
            raise PermanentBrokerError(f"Unknown order operation {operation!r}")
        return order_state_from_trade(trade, rates=self._fill_rates(ib))

    @staticmethod
    def _check_modification(trade: Trade, broker_order_id: str, changes: dict) -> None:
        """Refuse here what TWS would refuse: ib_insync marks an order cancelled on any error for it."""
        quantity, limit_price = changes.get("quantity"), changes.get("limit_price")
        if quantity is not None and Decimal(quantity) <= _decimal(trade.orderStatus.filled or 0):
            raise PermanentBrokerError(
                f"Order {broker_order_id} has filled {trade.orderStatus.filled}; its quantity cannot become {quantity}",
                code=104,
            )
        if limit_price is not None and (trade.order.orderType != "LMT" or Decimal(limit_price) <= 0):
            raise PermanentBrokerError(
                f"Order {broker_order_id} is {trade.order.orderType}: it takes no limit price {limit_price}", code=104
            )

    def _manage(self, operation: str, broker_order_id: str, changes: dict | None = None) -> OrderState:
        """Cancel or modify any order of the installation: here when this client id placed it, else
        by the process holding the client id that did (over Redis), else under that id ourselves."""
        changes = changes or {}
        try:
            return self._call(lambda ib: self._own_operation(ib, operation, broker_order_id, changes))
        except _OwnedElsewhere as elsewhere:
            owner = elsewhere.client_id
        if owner <= 0:  # client id 0 (or none): placed by hand in TWS, where only TWS's client 0 may touch it
            raise PermanentBrokerError(f"Order {broker_order_id} was placed in TWS, not by the API; change it there")
        request = {"operation": operation, "broker_order_id": broker_order_id, "changes": changes}
        client = redis_client()
        if client is not None:
            reply = redis_key(f"ibkr:reply:{uuid.uuid4().hex}")
            if client.publish(owner_channel(owner), json.dumps({**request, "reply": reply})):
                answer = client.blpop([reply], timeout=settings.IBKR_TIMEOUT * 3)
                if answer is None:
                    raise TransientBrokerError(
                        f"IBKR client {owner}, which placed order {broker_order_id}, did not answer"
                    )
                return answer_from_json(json.loads(answer[1]))
        logger.info("No process holds IBKR client id %s; managing its order %s under that id", owner, broker_order_id)
        borrowed = IBKRAdapter(client_id=owner, pacer=self.pacer)
        try:
            return borrowed._call(lambda ib: borrowed._own_operation(ib, operation, broker_order_id, changes))
        finally:
            borrowed.close()

    async def _serve_owner_requests(self) -> asyncio.Task | None:
        """Subscribe to this client id's channel and answer other processes' cancels and modifications."""
        if not settings.REDIS_URL:
            return None
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        subscription = client.pubsub()
        await subscription.subscribe(owner_channel(self.client_id))

        async def serve() -> None:
            try:
                async for message in subscription.listen():
                    if message["type"] == "message":
                        await self._answer_owner_request(client, json.loads(message["data"]))
            finally:
                await subscription.aclose()
                await client.aclose()

        return asyncio.create_task(serve())

    async def _answer_owner_request(self, client, request: dict) -> None:
        try:
            ib = await self._connected()
            state = await self._own_operation(ib, request["operation"], request["broker_order_id"], request["changes"])
            answer = {"state": state_to_json(state)}
        except RequestError as exc:
            answer = error_to_json(broker_error(exc.code, exc.message))
        except BrokerError as exc:
            answer = error_to_json(exc)
        except Exception as exc:  # the asking process gets an answer, not a timeout
            logger.exception("Answering %s for another process failed", request)
            answer = error_to_json(TransientBrokerError(f"IBKR client {self.client_id} failed: {exc!r}"))
        await client.rpush(request["reply"], json.dumps(answer))
        await client.expire(request["reply"], 60)

    # the interface

    def status(self) -> BrokerStatus:
        try:
            accounts = self._call(lambda ib: _result(ib.managedAccounts()))
        except BrokerError as exc:
            return BrokerStatus(False, False, self.account, is_paper_account(self.account), self.name, str(exc))
        account = self.account or (accounts[0] if accounts else "")
        return BrokerStatus(
            connected=True,
            authenticated=bool(accounts),
            account_id=account,
            paper=is_paper_account(account),
            adapter=self.name,
            message=f"IB Gateway {settings.IBKR_HOST}:{settings.IBKR_PORT}, client id {self.client_id}",
        )

    def qualify(self, contract: str | ContractSpec) -> ContractInfo:
        spec = ContractSpec((contract or "").strip().upper()) if isinstance(contract, str) else contract

        async def work(ib: IB):
            return await ib.reqContractDetailsAsync(ib_contract(spec))

        try:
            details = self._call(work)
        except PermanentBrokerError as error:
            if error.code != 200:
                raise
            details = []
        if not details:
            raise PermanentBrokerError(
                f"IBKR has no contract {spec.describe()}: the symbol is unknown, or the future has expired", code=200
            )
        candidates = [contract_info(detail) for detail in details]
        if len(candidates) > 1 and isinstance(contract, str):
            # A bare US ticker: the US listing, as before contracts had exchanges (AAPL is AAPL on NASDAQ).
            us = [c for c in candidates if c.currency == "USD" and c.primary_exchange in US_PRIMARY_EXCHANGES]
            candidates = us[:1] or candidates
        if len(candidates) > 1:
            raise AmbiguousContract(spec, candidates)
        return candidates[0]

    def historical_bars(self, conid: int, symbol: str, period: str, bar: str) -> list[dict]:
        try:
            duration, size = duration_str(period), bar_size_setting(bar)
        except ValueError as exc:
            raise PermanentBrokerError(str(exc), code=321) from exc

        async def work(ib: IB):
            return await ib.reqHistoricalDataAsync(
                await self._routed(ib, conid, symbol),
                endDateTime="",
                durationStr=duration,
                barSizeSetting=size,
                whatToShow="TRADES",
                useRTH=True,
                formatDate=2,
                timeout=HISTORICAL_TIMEOUT,
            )

        with self.pacer.request(conid, f"{duration}|{size}|TRADES", tws_bar_seconds(size)):
            return bars_from_ib(self._call(work, timeout=HISTORICAL_TIMEOUT + 10))

    def quote(self, conid: int, symbol: str) -> Quote:
        async def work(ib: IB):
            [ticker] = await ib.reqTickersAsync(await self._routed(ib, conid, symbol))
            return ticker

        ticker = self._call(work)
        last = ticker.marketPrice()
        if not math.isfinite(last):
            last = ticker.close
        if not math.isfinite(last):
            raise TransientBrokerError(f"IBKR has no price for {symbol} right now")

        def price(value: float) -> Decimal | None:
            return _decimal(value) if math.isfinite(value) and value > 0 else None

        return Quote(
            conid=conid,
            bid=price(ticker.bid),
            ask=price(ticker.ask),
            last=_decimal(last),
            time=_utc(ticker.time),
            market_data_type=MARKET_DATA_TYPE_NAMES.get(ticker.marketDataType, ""),
        )

    def place_order(self, req: OrderRequest) -> OrderState:
        errors = req.validation_errors()
        if errors:
            raise PermanentBrokerError("Order refused: " + "; ".join(errors), code=321)
        if settings.IBKR_READONLY:
            raise PermanentBrokerError("The IBKR connection is read-only (IBKR_READONLY); no orders")
        self._connect_now()
        if not is_paper_account(self.account) and settings.TRADING_MODE != "live":
            raise PermanentBrokerError(
                f"Account {self.account} is a live account but TRADING_MODE is {settings.TRADING_MODE!r}; "
                "refusing to place a live order"
            )

        async def work(ib: IB):
            contract = await self._routed(ib, req.conid, req.symbol)
            orders = build_orders(req, self.account, ib.client.getReqId)
            trades = [ib.placeOrder(contract, order) for order in orders]
            entry = trades[0]
            deadline = asyncio.get_running_loop().time() + settings.IBKR_TIMEOUT
            # Wait for the gateway's acknowledgement (or refusal), which also brings the permanent id.
            while entry.orderStatus.status in UNACKNOWLEDGED:
                if asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.05)
            return entry, self._fill_rates(ib)

        entry, rates = self._call(work)
        if entry.orderStatus.status in UNACKNOWLEDGED:
            # The gateway may be working it (a connection lost before the acknowledgement): the
            # caller records the outcome as unknown, and reconciliation finds it by its orderRef.
            raise TransientBrokerError(
                f"IBKR did not acknowledge order {req.order_ref} within {settings.IBKR_TIMEOUT:.0f}s"
            )
        return order_state_from_trade(entry, rates=rates)

    def cancel_order(self, broker_order_id: str) -> OrderState:
        return self._manage("cancel", broker_order_id)

    def modify_order(
        self, broker_order_id: str, *, quantity: Decimal | None = None, limit_price: Decimal | None = None
    ) -> OrderState:
        changes = {"quantity": quantity, "limit_price": limit_price}
        return self._manage("modify", broker_order_id, {name: str(v) for name, v in changes.items() if v is not None})

    def order_status(self, broker_order_id: str) -> OrderState:
        async def work(ib: IB):
            trade, fills = await self._locate(ib, broker_order_id)
            return order_state_from_trade(trade, fills, self._fill_rates(ib))

        return self._call(work)

    def find_orders_by_ref(self, order_ref: str) -> list[OrderState]:
        async def work(ib: IB):
            return merge_orders_by_ref(order_ref, *await self._every_order(ib), self._fill_rates(ib))

        return self._call(work)

    def open_orders(self) -> list[OrderState]:
        async def work(ib: IB):
            trades = await ib.reqAllOpenOrdersAsync()
            return [order_state_from_trade(trade, rates=self._fill_rates(ib)) for trade in trades]

        return self._call(work)

    def positions(self) -> list[BrokerPosition]:
        positions = self._call(lambda ib: _result(ib.positions(self.account)))
        return [
            BrokerPosition(
                conid=p.contract.conId,
                symbol=p.contract.symbol,
                quantity=_decimal(p.position),
                average_cost=_decimal(p.avgCost) / contract_multiplier(p.contract.multiplier),
                currency=p.contract.currency or "USD",
                multiplier=p.contract.multiplier or "",
            )
            for p in positions
            if p.position
        ]

    def account_summary(self) -> AccountSummary:
        async def work(ib: IB):
            values = ib.accountValues(self.account)
            if not any(v.tag == "NetLiquidation" for v in values):
                values = await ib.accountSummaryAsync(self.account)
            return values

        equity, cash, currency, rates = account_numbers(self._call(work), self.account)
        if equity is None or cash is None:
            raise TransientBrokerError(f"IBKR sent no NetLiquidation/TotalCashValue for account {self.account!r}")
        return AccountSummary(
            account_id=self.account,
            equity=equity,
            cash=cash,
            paper=is_paper_account(self.account),
            currency=currency,
            exchange_rates=rates,
        )


def share_message_rate(ib: IB, rate: MessageRate) -> None:
    """Send this connection's messages within the installation's shared messages-per-second budget.

    ib_insync's own throttle (Client.MaxRequests a second) counts one connection only; every
    message now also takes a slot of the shared budget first, and waits on the loop (in order)
    when the last second used it up.
    """
    client = ib.client
    send_throttled_here = client.sendMsg
    waiting: deque[str] = deque()
    retry_scheduled = False

    def send(message: str | None) -> None:
        nonlocal retry_scheduled
        if message:
            waiting.append(message)
        elif not waiting:
            send_throttled_here(None)  # ib_insync's own retry: flush what it holds (those took their slots)
            return
        while waiting and rate.try_take():
            send_throttled_here(waiting.popleft())
        if waiting and not retry_scheduled:
            retry_scheduled = True
            asyncio.get_event_loop().call_later(0.02, retry)

    def retry() -> None:
        nonlocal retry_scheduled
        retry_scheduled = False
        send(None)

    client.sendMsg = send


class _OwnedElsewhere(Exception):
    """The order was placed under another client id, the only one IBKR lets cancel or modify it."""

    def __init__(self, client_id: int):
        super().__init__(f"owned by IBKR client {client_id}")
        self.client_id = client_id


def owner_channel(client_id: int) -> str:
    """The Redis channel on which the process holding `client_id` takes requests for its orders."""
    return redis_key(f"ibkr:client:{client_id}")


def state_to_json(state: OrderState) -> dict:
    return json.loads(json.dumps(asdict(state), default=str))


def state_from_json(data: dict) -> OrderState:
    def money(value):
        return None if value is None else Decimal(value)

    fills = [
        FillInfo(
            exec_id=fill["exec_id"],
            quantity=Decimal(fill["quantity"]),
            price=Decimal(fill["price"]),
            commission=Decimal(fill["commission"]),
            time=datetime.fromisoformat(fill["time"]),
            exchange_rate=money(fill.get("exchange_rate")),
        )
        for fill in data["fills"]
    ]
    return OrderState(
        broker_order_id=data["broker_order_id"],
        order_ref=data["order_ref"],
        status=data["status"],
        filled_quantity=Decimal(data["filled_quantity"]),
        avg_fill_price=money(data["avg_fill_price"]),
        fills=fills,
        message=data["message"],
    )


ERROR_KINDS = {"unavailable": BrokerUnavailable, "transient": TransientBrokerError, "permanent": PermanentBrokerError}


def error_to_json(error: BrokerError) -> dict:
    kind = next(name for name, cls in ERROR_KINDS.items() if isinstance(error, cls))
    return {"error": {"kind": kind, "message": error.message, "code": error.code}}


def answer_from_json(answer: dict) -> OrderState:
    """The owner's answer: the order's state, or its error raised here."""
    if "error" in answer:
        error = answer["error"]
        raise ERROR_KINDS[error["kind"]](error["message"], code=error["code"])
    return state_from_json(answer["state"])


async def _result(value):
    """Wrap a synchronous ib_insync lookup so it runs on the connection's loop thread."""
    return value


_process_adapter: tuple[int, IBKRAdapter] | None = None
_process_guard = threading.Lock()


def shared_ibkr_adapter() -> IBKRAdapter:
    """This process's adapter (a forked worker builds its own, with its own connection and client id)."""
    global _process_adapter
    with _process_guard:
        if _process_adapter is None or _process_adapter[0] != os.getpid():
            _process_adapter = (os.getpid(), IBKRAdapter())
        return _process_adapter[1]


def reset_shared_ibkr_adapter() -> None:
    """Close and forget this process's adapter; the next shared_ibkr_adapter() connects with the current settings."""
    global _process_adapter
    with _process_guard:
        adapter, _process_adapter = _process_adapter, None
    if adapter is not None and adapter[0] == os.getpid():
        adapter[1].close()
