"""An IB Gateway stand-in: the TWS API on a local TCP port, backed by the simulated exchange.

ib_insync (and so broker.adapters.ibkr) connects to it exactly as to IB Gateway: handshake,
startApi with a client id, then requests. Contracts, quotes, bars, orders, fills, positions
and the account all come from broker.simulation.SimulatedExchange, whose book lives in the
database; the exchange is only ever called from one worker thread, so the event loop never
blocks on it and Django's ORM is used from a synchronous thread as it must be.
"""

import asyncio
import contextlib
import functools
import itertools
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connections

from broker.adapters.base import (
    AccountSummary,
    BrokerError,
    BrokerPosition,
    ContractInfo,
    OrderRequest,
    OrderState,
    Quote,
)
from broker.listings import find_listings, listed_symbols, listing_by_key
from broker.models import Instrument, SimulatedOrder
from broker.pacing import tws_bar_seconds
from broker.simulation import SimulatedExchange, minute_bars

from . import messages as msg
from .clock import MarketClock
from .faults import Faults
from .history import HistoryRequestError, PacingMonitor, bar_date, parse_end_time, simulated_bar_size, simulated_period
from .records import ExecutionRecord, OrderRecord
from .wire import ProtocolError, decode_fields, encode_frame, read_frame, read_handshake

log = logging.getLogger(__name__)

NO_SECURITY_DEFINITION = "No security definition has been found for the request"
CONNECTIVITY_LOST = "Connectivity between IB and Trader Workstation has been lost."
CONNECTIVITY_RESTORED = "Connectivity between IB and Trader Workstation has been restored - data maintained."
FARMS_OK = (
    (msg.INFO_MARKET_DATA_FARM_OK, "Market data farm connection is OK:usfarm"),
    (msg.INFO_HMDS_FARM_OK, "HMDS data farm connection is OK:ushmds"),
    (msg.INFO_SEC_DEF_FARM_OK, "Sec-def data farm connection is OK:secdefnj"),
)
DELAYED_BY = timedelta(minutes=15)
MESSAGE_RATE_EXCEEDED = "Max rate of messages per second has been exceeded:max=50"
PACING_VIOLATION = "Historical Market Data Service error message:Historical data request pacing violation"


@dataclass(frozen=True)
class Holding:
    contract: ContractInfo
    position: BrokerPosition
    market_price: Decimal


@dataclass(frozen=True)
class AccountSnapshot:
    summary: AccountSummary
    holdings: list[Holding]
    exchange_rates: dict[str, Decimal]

    def values(self) -> list[tuple[str, str, str]]:
        """(tag, value, currency) rows as reqAccountUpdates and reqAccountSummary report them."""
        summary = self.summary
        gross = sum((abs(h.position.quantity * h.market_price) for h in self.holdings), Decimal("0"))
        money = {
            "NetLiquidation": summary.equity,
            "TotalCashValue": summary.cash,
            "SettledCash": summary.cash,
            "AvailableFunds": summary.cash,
            "BuyingPower": summary.cash,
            "EquityWithLoanValue": summary.equity,
            "GrossPositionValue": gross,
        }
        rows = [("AccountType", "INDIVIDUAL", ""), ("AccountCode", summary.account_id, "")]
        rows += [(tag, msg.price_field(value) or "0", summary.currency) for tag, value in money.items()]
        rates = {"BASE": Decimal("1"), **self.exchange_rates}
        return rows + [("ExchangeRate", msg.price_field(rate), currency) for currency, rate in rates.items()]


class Session:
    """One client connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.client_id: int | None = None
        self.wants_positions = False
        self.wants_account_updates = False
        self.account_multi_req_ids: set[int] = set()
        self.market_data_type = msg.MARKET_DATA_LIVE

    def send(self, fields: list) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode_frame(fields))

    def error(self, req_id: int, code: int, message: str) -> None:
        self.send(msg.error(req_id, code, message))

    async def flush(self) -> None:
        try:
            await self.writer.drain()
        except ConnectionError:
            pass

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


class GatewaySimulator:
    """The TWS API server: `serve_forever()` in an event loop, or `start_in_thread()` / `stop_thread()`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 4002,
        exchange: SimulatedExchange | None = None,
        clock: MarketClock | None = None,
        faults: Faults | None = None,
        market_interval: float = 0.1,
        enforce_pacing: bool = False,
    ):
        self.host = host
        self.port = port
        self.exchange = exchange or SimulatedExchange()
        self.account_id = self.exchange.account_id
        self.clock = clock or MarketClock()
        self.faults = faults or Faults()
        self.market_interval = market_interval
        self.pacing = PacingMonitor() if enforce_pacing else None
        self.sessions: dict[int, Session] = {}
        self.orders: dict[tuple[int, int], OrderRecord] = {}
        self._untransmitted: dict[tuple[int, int], msg.PlaceOrderRequest] = {}
        self.executions: list[ExecutionRecord] = []
        self.contracts: dict[int, ContractInfo] = {}
        self._exchange_keys: dict[int, str] = {}  # conid -> the exchange's symbol, for the listings of broker.listings
        self._perm_ids = itertools.count(1_000_001)
        self._connections: set[Session] = set()
        self._dropped_client_ids: set[int] = set()
        self._reported_conids: set[int] = set()
        self._executor: ThreadPoolExecutor | None = None
        self._server: asyncio.Server | None = None
        self._market_task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._handlers = {
            msg.REQ_MKT_DATA: self._market_data,
            msg.PLACE_ORDER: self._place_order,
            msg.CANCEL_ORDER: self._cancel_order,
            msg.REQ_OPEN_ORDERS: functools.partial(self._open_orders, all_clients=False),
            msg.REQ_ALL_OPEN_ORDERS: functools.partial(self._open_orders, all_clients=True),
            msg.REQ_COMPLETED_ORDERS: self._completed_orders,
            msg.REQ_ACCOUNT_UPDATES: self._account_updates,
            msg.REQ_ACCOUNT_UPDATES_MULTI: self._account_updates_multi,
            msg.CANCEL_ACCOUNT_UPDATES_MULTI: self._cancel_account_updates_multi,
            msg.REQ_ACCOUNT_SUMMARY: self._account_summary,
            msg.REQ_EXECUTIONS: self._executions,
            msg.REQ_IDS: self._next_ids,
            msg.REQ_CONTRACT_DETAILS: self._contract_details,
            msg.REQ_MANAGED_ACCTS: self._managed_accounts,
            msg.REQ_HISTORICAL_DATA: self._historical_data,
            msg.REQ_CURRENT_TIME: self._current_time,
            msg.REQ_POSITIONS: self._positions,
            msg.REQ_MARKET_DATA_TYPE: self._set_market_data_type,
            msg.CANCEL_POSITIONS: self._cancel_positions,
        }
        # Requests that need no answer from a gateway that streams nothing.
        self._silent = {
            msg.CANCEL_MKT_DATA,
            msg.CANCEL_HISTORICAL_DATA,
            msg.CANCEL_ACCOUNT_SUMMARY,
            msg.REQ_AUTO_OPEN_ORDERS,
        }

    # --- running -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-sim-exchange")
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._market_task = asyncio.create_task(self._run_market())
        log.info("Gateway simulator listening on %s:%s, account %s", self.host, self.port, self.account_id)

    async def stop(self) -> None:
        if self._market_task:
            self._market_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._market_task
        if self._server:
            self._server.close()
        for session in list(self._connections):
            await session.close()
        if self._server:
            await self._server.wait_closed()
        if self._executor:
            # The exchange thread holds its own database connection; close it there.
            await self._call(connections.close_all)
            self._executor.shutdown(wait=True)
            self._executor = None

    async def serve_forever(self, *, drop_every: float | None = None) -> None:
        """Serve until cancelled (Ctrl-C); with `drop_every`, drop all connections that often."""
        await self.start()
        try:
            while True:
                await asyncio.sleep(drop_every or 3600)
                if drop_every:
                    await self.adrop_connections()
        finally:
            await self.stop()

    def start_in_thread(self) -> int:
        """Serve from a background thread with its own event loop; returns the port."""
        started = threading.Event()
        failures: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the caller below
                failures.append(exc)
                loop.close()
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="gateway-sim", daemon=True)
        self._thread.start()
        started.wait()
        if failures:
            raise failures[0]
        return self.port

    def stop_thread(self) -> None:
        asyncio.run_coroutine_threadsafe(self.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def drop_connections(self) -> None:
        """From another thread: drop every client connection (each is told 1100 first)."""
        asyncio.run_coroutine_threadsafe(self.adrop_connections(), self._loop).result(timeout=10)

    async def adrop_connections(self) -> None:
        """Tell every client that connectivity is lost (1100) and close its socket. Clients may
        reconnect at once; a client id that was dropped hears 1102 (restored) when it returns."""
        for session in list(self._connections):
            if session.client_id is not None:
                session.error(msg.NO_REQ_ID, msg.ERR_CONNECTIVITY_LOST, CONNECTIVITY_LOST)
                self._dropped_client_ids.add(session.client_id)
                self.sessions.pop(session.client_id, None)
            await session.close()
        log.info("Dropped all client connections")

    async def _call(self, function, /, *args, **kwargs):
        """Run a blocking (database) call on the exchange thread."""
        return await self._loop.run_in_executor(self._executor, functools.partial(function, *args, **kwargs))

    # --- connections ---------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(reader, writer)
        self._connections.add(session)
        try:
            if await self._handshake(session):
                while True:
                    fields = decode_fields(await read_frame(reader))
                    if self.pacing and not self.pacing.message_allowed(session.client_id, time.monotonic()):
                        session.error(msg.NO_REQ_ID, msg.ERR_MESSAGE_RATE, MESSAGE_RATE_EXCEEDED)
                        continue
                    if self.faults.response_delay:
                        await asyncio.sleep(self.faults.response_delay)
                    await self._dispatch(session, fields)
                    await session.flush()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client hung up or we dropped it
        except ProtocolError as exc:
            log.warning("Closing a connection that does not speak the TWS API: %s", exc)
        finally:
            self._connections.discard(session)
            if session.client_id is not None and self.sessions.get(session.client_id) is session:
                del self.sessions[session.client_id]
            await session.close()

    async def _handshake(self, session: Session) -> bool:
        low, high = await read_handshake(session.reader)
        if not low <= msg.SERVER_VERSION <= high:
            log.warning("Refusing client versions v%s..%s (server version %s)", low, high, msg.SERVER_VERSION)
            return False
        session.send(msg.server_hello(self.clock.now()))
        await session.flush()
        fields = decode_fields(await read_frame(session.reader))
        if not fields or int(fields[0]) != msg.START_API:
            raise ProtocolError(f"expected startApi after the handshake, got {fields[:1]}")
        client_id = int(fields[2])
        if client_id in self.sessions:
            session.error(
                msg.NO_REQ_ID,
                msg.ERR_DUPLICATE_CLIENT_ID,
                "Unable to connect as the client id is already in use. Retry with a unique client id.",
            )
            await session.flush()
            return False
        session.client_id = client_id
        self.sessions[client_id] = session
        session.send(msg.managed_accounts(self.account_id))
        session.send(msg.next_valid_id(self._next_order_id(client_id)))
        for code, text in FARMS_OK:
            session.error(msg.NO_REQ_ID, code, text)
        if client_id in self._dropped_client_ids:
            self._dropped_client_ids.discard(client_id)
            session.error(msg.NO_REQ_ID, msg.ERR_CONNECTIVITY_RESTORED, CONNECTIVITY_RESTORED)
        await session.flush()
        log.info("Client %s connected", client_id)
        return True

    async def _dispatch(self, session: Session, fields: list[str]) -> None:
        message_id = int(fields[0])
        handler = self._handlers.get(message_id)
        if handler is None:
            if message_id not in self._silent:
                log.info(
                    "Client %s sent message %s, which the simulator does not implement", session.client_id, message_id
                )
            return
        try:
            await handler(session, fields)
        except (ValueError, IndexError) as exc:
            log.warning("Unreadable message %s from client %s: %s", fields[:3], session.client_id, exc)
            session.error(msg.NO_REQ_ID, 320, f"Error reading request: message id {message_id}: {exc}")
        except Exception as exc:  # one failed request must not take the gateway down
            log.exception("Request %s from client %s failed", fields[:3], session.client_id)
            session.error(msg.NO_REQ_ID, 322, f"Error processing request: message id {message_id}: {exc}")

    def _next_order_id(self, client_id: int) -> int:
        used = [order_id for cid, order_id in [*self.orders, *self._untransmitted] if cid == client_id]
        return max(used, default=0) + 1

    # --- contracts, quotes, bars ---------------------------------------------------------------

    async def _candidates(self, requested: msg.RequestedContract) -> list[ContractInfo]:
        """Every contract a request describes: listings abroad, FX and futures, and the simulated US stock."""
        found = find_listings(requested, self.clock.now())
        for listing in found:
            self.contracts[listing.info.conid] = listing.info
            self._exchange_keys[listing.info.conid] = listing.key
        if found and requested.conid or requested.symbol in listed_symbols():
            return [listing.info for listing in found]
        stock = await self._us_stock(requested)
        return [listing.info for listing in found] + ([stock] if stock else [])

    async def _resolve(self, requested: msg.RequestedContract) -> ContractInfo | None:
        """The one contract a request means, or None (TWS's error 200)."""
        candidates = await self._candidates(requested)
        return candidates[0] if len(candidates) == 1 else None

    async def _us_stock(self, requested: msg.RequestedContract) -> ContractInfo | None:
        symbol = requested.symbol
        if not symbol and requested.conid:
            known = self.contracts.get(requested.conid)
            symbol = known.symbol if known else await self._call(self._symbol_for_conid, requested.conid)
        if not symbol:
            return None
        try:
            info = await self._call(self.exchange.qualify, symbol)
        except BrokerError:
            return None
        mismatched = (
            (requested.conid and requested.conid != info.conid)
            or requested.sec_type not in ("", info.sec_type)
            or requested.currency not in ("", info.currency)
            or requested.expiry
        )
        if mismatched:
            return None
        self.contracts[info.conid] = info
        return info

    def _exchange_symbol(self, info: ContractInfo) -> str:
        """The symbol under which the simulated exchange prices and books this contract."""
        return self._exchange_keys.get(info.conid, info.symbol)

    def _contract_for(self, exchange_symbol: str) -> ContractInfo:
        """The contract the simulated exchange books under `exchange_symbol` (a position's symbol)."""
        listing = listing_by_key(exchange_symbol, self.clock.now())
        return listing.info if listing else self.exchange.qualify(exchange_symbol)

    @staticmethod
    def _symbol_for_conid(conid: int) -> str:
        """A contract id the app qualified before (it keeps them as Instruments)."""
        return Instrument.objects.filter(conid=conid).values_list("symbol", flat=True).first() or ""

    async def _contract_details(self, session: Session, fields: list[str]) -> None:
        req_id = int(fields[2])
        candidates = await self._candidates(msg.RequestedContract.from_fields(fields[3:15]))
        if not candidates:
            session.error(req_id, msg.ERR_NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION)
            return
        for info in candidates:
            session.send(msg.contract_details(req_id, info))
        session.send(msg.contract_details_end(req_id))

    async def _market_data(self, session: Session, fields: list[str]) -> None:
        # 1, 11, reqId, contract x12, [delta-neutral flag (+3 fields)], genericTicks, snapshot, ...
        req_id = int(fields[2])
        requested = msg.RequestedContract.from_fields(fields[3:15])
        tail = fields[19:] if fields[15] == "1" else fields[16:]
        snapshot = tail[1] == "1"
        info = await self._resolve(requested)
        if info is None:
            session.error(req_id, msg.ERR_NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION)
            return
        delayed = session.market_data_type >= msg.MARKET_DATA_DELAYED
        now = self.clock.now() - (DELAYED_BY if delayed else timedelta(0))
        quote, volume = await self._call(self._read_quote, self._exchange_symbol(info), now)
        session.send(msg.market_data_type(req_id, session.market_data_type))
        ticks = (
            (msg.DELAYED_TICK_BID if delayed else msg.TICK_BID, quote.bid),
            (msg.DELAYED_TICK_ASK if delayed else msg.TICK_ASK, quote.ask),
            (msg.DELAYED_TICK_LAST if delayed else msg.TICK_LAST, quote.last),
        )
        for tick_type, price in ticks:
            if price is not None:
                session.send(msg.tick_price(req_id, tick_type, msg.price_field(price), 0))
        session.send(msg.tick_size(req_id, msg.DELAYED_TICK_VOLUME if delayed else msg.TICK_VOLUME, volume))
        if snapshot:
            session.send(msg.tick_snapshot_end(req_id))

    async def _set_market_data_type(self, session: Session, fields: list[str]) -> None:
        # 59, version, type: what the client's later market data requests get (as TWS without
        # subscriptions, delayed data is the price of DELAYED_BY ago, on the delayed tick types)
        data_type = int(fields[2])
        if not 1 <= data_type <= 4:
            raise ValueError(f"market data type must be 1..4, got {data_type}")
        session.market_data_type = data_type

    def _read_quote(self, symbol: str, now: datetime) -> tuple[Quote, int]:
        """The exchange's quote and the volume traded since midnight (UTC) of the market day."""
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        today = minute_bars(symbol, midnight, now, seed=self.exchange.seed)
        return self.exchange.quote(symbol, now=now), int(today["v"].sum())

    async def _historical_data(self, session: Session, fields: list[str]) -> None:
        request = msg.HistoricalDataRequest.from_fields(fields)
        req_id = request.req_id
        info = await self._resolve(request.contract)
        if info is None:
            session.error(req_id, msg.ERR_NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION)
            return
        try:
            bar = simulated_bar_size(request.bar_size)
            period, span = simulated_period(request.duration)
            end = parse_end_time(request.end, self.clock.now())
        except HistoryRequestError as exc:
            session.error(req_id, 321, f"Error validating request:-'bP' : cause - {exc}")
            return
        pacing_key = (info.conid, request.end, request.duration, request.bar_size, request.what_to_show)
        bar_seconds = tws_bar_seconds(request.bar_size)
        paced_out = self.pacing and not self.pacing.allows(info.conid, pacing_key, bar_seconds, time.monotonic())
        if self.faults.take_pacing_violation() or paced_out:
            session.error(req_id, msg.ERR_PACING_VIOLATION, PACING_VIOLATION)
            return
        try:
            bars = await self._call(self.exchange.bars, self._exchange_symbol(info), period, bar, end=end)
        except ValueError as exc:
            session.error(req_id, msg.ERR_PACING_VIOLATION, f"Historical Market Data Service error message:{exc}")
            return
        finally:
            if self.pacing:
                self.pacing.finished()
        if span:
            bars = [b for b in bars if datetime.fromisoformat(b["t"]) >= end - span]
        start = datetime.fromisoformat(bars[0]["t"]) if bars else end
        rows = [(bar_date(b["t"], bar, request.format_date), b["o"], b["h"], b["l"], b["c"], b["v"]) for b in bars]
        session.send(msg.historical_data(req_id, start, end, rows))

    async def _current_time(self, session: Session, fields: list[str]) -> None:
        session.send(msg.current_time(self.clock.now()))

    async def _managed_accounts(self, session: Session, fields: list[str]) -> None:
        session.send(msg.managed_accounts(self.account_id))

    async def _next_ids(self, session: Session, fields: list[str]) -> None:
        session.send(msg.next_valid_id(self._next_order_id(session.client_id)))

    # --- orders --------------------------------------------------------------------------------

    async def _place_order(self, session: Session, fields: list[str]) -> None:
        request = msg.PlaceOrderRequest.from_fields(fields)
        key = (session.client_id, request.order_id)
        if key in self.orders and request.transmit:
            await self._modify(session, self.orders[key], request)
            return
        if key in self.orders or key in self._untransmitted:
            session.error(request.order_id, msg.ERR_DUPLICATE_ORDER_ID, "Duplicate order id")
            return
        if not request.transmit:
            # Like TWS, hold it until a transmitted order (the last leg of its bracket) sends it.
            self._untransmitted[key] = request
            return
        if not request.parent_id:
            await self._submit(session, request, [])
            return
        parent = self._untransmitted.pop((session.client_id, request.parent_id), None)
        if parent is None:
            self._reject(session, [request], f"parent order {request.parent_id} is not an untransmitted bracket parent")
            return
        siblings = [
            self._untransmitted.pop(held_key)
            for held_key, held in list(self._untransmitted.items())
            if held_key[0] == session.client_id and held.parent_id == request.parent_id
        ]
        await self._submit(session, parent, [*siblings, request])

    async def _modify(self, session: Session, record: OrderRecord, request: msg.PlaceOrderRequest) -> None:
        """placeOrder with the id of a placed order: TWS changes that order's quantity and limit price."""
        if record.is_done or request.order_type != record.order_type or request.action != record.action:
            session.error(
                request.order_id,
                msg.ERR_CANNOT_MODIFY,
                f"Unable to modify this order as it is {record.status}, or its side or type would change.",
            )
            return
        limit_price = request.limit_price if record.order_type == "LMT" else None
        try:
            state = await self._call(
                self.exchange.modify_order,
                record.broker_order_id,
                quantity=request.quantity,
                limit_price=limit_price,
                now=self.clock.now(),
            )
        except BrokerError as exc:
            session.error(request.order_id, msg.ERR_CANNOT_MODIFY, f"Unable to modify this order: {exc.message}")
            return
        record.quantity = request.quantity
        record.limit_price = limit_price
        self._report(record, state)
        session.send(msg.open_order(record))
        session.send(msg.order_status(record))

    @staticmethod
    def _reject(session: Session, requests: list[msg.PlaceOrderRequest], reason: str) -> None:
        for request in requests:
            session.error(request.order_id, msg.ERR_ORDER_REJECTED, f"Order rejected - reason:{reason}")

    async def _submit(self, session: Session, entry: msg.PlaceOrderRequest, exits: list[msg.PlaceOrderRequest]) -> None:
        """Send an order, with its take-profit (LMT) and stop-loss (STP) legs, to the exchange."""
        legs = [entry, *exits]
        info = await self._resolve(entry.contract)
        if info is None:
            for leg in legs:
                session.error(leg.order_id, msg.ERR_NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION)
            return
        injected = self.faults.take_order_rejection()
        if injected:
            self._reject(session, legs, injected)
            return
        take_profits = [leg for leg in exits if leg.order_type == "LMT"]
        stop_losses = [leg for leg in exits if leg.order_type == "STP"]
        if len(take_profits) > 1 or len(stop_losses) > 1 or len(exits) != len(take_profits) + len(stop_losses):
            self._reject(session, legs, "a bracket takes at most one LMT take-profit and one STP stop-loss")
            return
        order_request = OrderRequest(
            conid=info.conid,
            symbol=self._exchange_symbol(info),
            side=entry.action,
            quantity=entry.quantity,
            order_type=entry.order_type,
            limit_price=entry.limit_price if entry.order_type == "LMT" else None,
            tif=entry.tif,
            # The exchange keys orders by reference; API clients may leave it empty.
            order_ref=entry.order_ref or f"tws-api-{uuid.uuid4().hex}",
            take_profit=take_profits[0].limit_price if take_profits else None,
            stop_loss=stop_losses[0].stop_price if stop_losses else None,
        )
        problems = order_request.validation_errors()
        if problems:
            self._reject(session, legs, "; ".join(problems))
            return
        try:
            state = await self._call(self.exchange.place_order, order_request, now=self.clock.now())
        except BrokerError as exc:
            self._reject(session, legs, exc.message)
            return
        if state.status == "rejected":
            self._reject(session, legs, state.message)
            return
        leg_ids = await self._call(self._bracket_leg_ids, state.broker_order_id) if exits else {}
        records = [self._record(session, entry, info, state.broker_order_id)]
        records += [self._record(session, leg, info, leg_ids[leg.order_type], entry.order_id) for leg in exits]
        states = [state]
        if exits:
            states += await self._call(self._read_order_states, [r.broker_order_id for r in records[1:]], None)
        silent = self.faults.take_silenced_order()
        filled = [
            self._report(record, leg_state, silent=silent) for record, leg_state in zip(records, states, strict=True)
        ]
        if any(filled):
            await self._push_account_updates()

    def _record(
        self, session: Session, leg: msg.PlaceOrderRequest, info: ContractInfo, broker_order_id: str, parent_id=0
    ) -> OrderRecord:
        record = OrderRecord(
            client_id=session.client_id,
            order_id=leg.order_id,
            perm_id=next(self._perm_ids),
            contract=info,
            action=leg.action,
            quantity=leg.quantity,
            order_type=leg.order_type,
            limit_price=leg.limit_price if leg.order_type == "LMT" else None,
            stop_price=leg.stop_price if leg.order_type == "STP" else None,
            tif=leg.tif,
            order_ref=leg.order_ref,
            account=self.account_id,
            broker_order_id=broker_order_id,
            parent_id=parent_id,
        )
        self.orders[(session.client_id, leg.order_id)] = record
        return record

    @staticmethod
    def _bracket_leg_ids(parent_broker_order_id: str) -> dict[str, str]:
        """The exchange's ids of a bracket's legs by order type (it books them as child orders)."""
        legs = SimulatedOrder.objects.filter(parent_id=int(parent_broker_order_id)).values_list("order_type", "pk")
        return {order_type: str(pk) for order_type, pk in legs}

    async def _cancel_order(self, session: Session, fields: list[str]) -> None:
        order_id = int(fields[2])
        record = self.orders.get((session.client_id, order_id))
        if record is None:
            session.error(
                order_id, msg.ERR_CANCEL_UNKNOWN_ORDER, f"OrderId {order_id} that needs to be cancelled is not found."
            )
            return
        try:
            state = await self._call(self.exchange.cancel_order, record.broker_order_id, now=self.clock.now())
        except BrokerError:
            # Filled (or cancelled) before the cancel arrived: report where it stands.
            state = await self._call(self.exchange.order_status, record.broker_order_id, now=self.clock.now())
            self._report(record, state)
            session.error(
                order_id,
                msg.ERR_CANCEL_DONE_ORDER,
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {record.status}.",
            )
            return
        self._report(record, state)
        if record.status == "Cancelled":
            session.error(order_id, msg.ERR_ORDER_CANCELLED, "Order Canceled - reason:")

    def _report(self, record: OrderRecord, state: OrderState, *, silent: bool = False) -> bool:
        """Send the owning client what changed about an order (nothing when `silent`); True when it filled further."""
        first_report = record.status == "PendingSubmit"
        new_fills = record.new_fills(state)
        changed = record.apply(state)
        if record.is_done and record.completed_at is None:
            record.completed_at = self.clock.now()
        session = None if silent else self.sessions.get(record.client_id)
        executions = [record.record_fill(fill) for fill in new_fills]
        self.executions.extend(executions)
        if session is None:
            return bool(executions)
        if first_report:
            session.send(msg.open_order(record))
        for execution in executions:
            session.send(msg.exec_details(msg.NO_REQ_ID, execution))
            session.send(msg.commission_report(execution))
        if changed or first_report:
            if not first_report:
                session.send(msg.open_order(record))
            session.send(msg.order_status(record))
        return bool(executions)

    async def _open_orders(self, session: Session, fields: list[str], *, all_clients: bool) -> None:
        for record in self.orders.values():
            if not record.is_done and (all_clients or record.client_id == session.client_id):
                session.send(msg.open_order(record))
                session.send(msg.order_status(record))
        session.send(msg.open_order_end())

    async def _completed_orders(self, session: Session, fields: list[str]) -> None:
        for record in self.orders.values():
            if record.is_done:
                session.send(msg.completed_order(record))
        session.send(msg.completed_orders_end())

    async def _executions(self, session: Session, fields: list[str]) -> None:
        req_id = int(fields[2])
        wanted = msg.ExecutionFilter.from_fields(fields)
        for execution in self.executions:
            if wanted.matches(execution):
                session.send(msg.exec_details(req_id, execution))
                session.send(msg.commission_report(execution))
        session.send(msg.exec_details_end(req_id))

    async def _run_market(self) -> None:
        """Let the exchange match working orders as market time passes, and report what happened."""
        while True:
            await asyncio.sleep(self.market_interval)
            working = [record for record in self.orders.values() if not record.is_done]
            if not working:
                continue
            try:
                states = await self._call(
                    self._read_order_states, [record.broker_order_id for record in working], self.clock.now()
                )
            except Exception:  # a failed step is retried on the next tick
                log.exception("Market step failed")
                continue
            filled = [self._report(record, state) for record, state in zip(working, states, strict=True)]
            if any(filled):
                await self._push_account_updates()

    def _read_order_states(self, broker_order_ids: list[str], now: datetime | None) -> list[OrderState]:
        now = now or self.clock.now()
        self.exchange.process_market(now)
        return [self.exchange.order_status(broker_order_id, now=now) for broker_order_id in broker_order_ids]

    # --- positions and the account -------------------------------------------------------------

    def _read_account(self, now: datetime) -> AccountSnapshot:
        summary = self.exchange.account_summary(now=now)
        holdings = [
            Holding(self._contract_for(position.symbol), position, self.exchange.price(position.symbol, now))
            for position in self.exchange.positions(now=now)
        ]
        return AccountSnapshot(summary, holdings, summary.exchange_rates)

    async def _account_snapshot(self) -> AccountSnapshot:
        snapshot = await self._call(self._read_account, self.clock.now())
        for holding in snapshot.holdings:
            self.contracts[holding.contract.conid] = holding.contract
        return snapshot

    def _send_positions(self, session: Session, snapshot: AccountSnapshot, closed_conids: set[int]) -> None:
        for holding in snapshot.holdings:
            session.send(
                msg.position(
                    self.account_id, holding.contract, holding.position.quantity, holding.position.average_cost
                )
            )
        for conid in closed_conids:
            session.send(msg.position(self.account_id, self.contracts[conid], Decimal("0"), Decimal("0")))

    def _send_account_values(self, session: Session, snapshot: AccountSnapshot) -> None:
        for tag, value, currency in snapshot.values():
            session.send(msg.update_account_value(tag, value, currency, self.account_id))
        for holding in snapshot.holdings:
            session.send(
                msg.update_portfolio(
                    self.account_id,
                    holding.contract,
                    holding.position.quantity,
                    holding.market_price,
                    holding.position.average_cost,
                )
            )
        session.send(msg.update_account_time(self.clock.now()))

    def _send_account_multi(self, session: Session, req_id: int, snapshot: AccountSnapshot) -> None:
        for tag, value, currency in snapshot.values():
            session.send(msg.account_update_multi(req_id, self.account_id, tag, value, currency))

    async def _push_account_updates(self) -> None:
        """After fills, stream positions and account values to the clients that subscribed."""
        subscribers = [
            s for s in self.sessions.values() if s.wants_positions or s.wants_account_updates or s.account_multi_req_ids
        ]
        if not subscribers:
            return
        snapshot = await self._account_snapshot()
        current = {holding.contract.conid for holding in snapshot.holdings}
        closed = self._reported_conids - current
        self._reported_conids = current
        for session in subscribers:
            if session.wants_positions:
                self._send_positions(session, snapshot, closed)
            if session.wants_account_updates:
                self._send_account_values(session, snapshot)
            for req_id in session.account_multi_req_ids:
                self._send_account_multi(session, req_id, snapshot)

    async def _positions(self, session: Session, fields: list[str]) -> None:
        session.wants_positions = True
        snapshot = await self._account_snapshot()
        self._reported_conids |= {holding.contract.conid for holding in snapshot.holdings}
        self._send_positions(session, snapshot, set())
        session.send(msg.position_end())

    async def _cancel_positions(self, session: Session, fields: list[str]) -> None:
        session.wants_positions = False

    async def _account_updates(self, session: Session, fields: list[str]) -> None:
        session.wants_account_updates = fields[2] == "1"
        if session.wants_account_updates:
            self._send_account_values(session, await self._account_snapshot())
            session.send(msg.account_download_end(self.account_id))

    async def _account_updates_multi(self, session: Session, fields: list[str]) -> None:
        req_id = int(fields[2])
        session.account_multi_req_ids.add(req_id)
        self._send_account_multi(session, req_id, await self._account_snapshot())
        session.send(msg.account_update_multi_end(req_id))

    async def _cancel_account_updates_multi(self, session: Session, fields: list[str]) -> None:
        session.account_multi_req_ids.discard(int(fields[2]))

    async def _account_summary(self, session: Session, fields: list[str]) -> None:
        req_id, tags = int(fields[2]), set(fields[4].split(","))
        for tag, value, currency in (await self._account_snapshot()).values():
            if tag in tags:
                session.send(msg.account_summary(req_id, self.account_id, tag, value, currency))
        session.send(msg.account_summary_end(req_id))
