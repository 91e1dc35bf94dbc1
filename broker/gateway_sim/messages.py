"""Field lists of the TWS API messages the simulator reads and writes, for server version 176.

Each outgoing builder returns the fields in exactly the order ib_insync 0.9.86's
``Decoder`` reads them at server version 176 (see ``ib_insync/decoder.py``); unset values
are sent empty, which the decoder turns into its own defaults.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from broker.adapters.base import ContractInfo

from .records import ExecutionRecord, OrderRecord

SERVER_VERSION = 176  # the newest ib_insync 0.9.86 speaks; clients must include it in their range

# Incoming (client -> gateway) message ids.
REQ_MKT_DATA = 1
CANCEL_MKT_DATA = 2
PLACE_ORDER = 3
CANCEL_ORDER = 4
REQ_OPEN_ORDERS = 5
REQ_ACCOUNT_UPDATES = 6
REQ_EXECUTIONS = 7
REQ_IDS = 8
REQ_CONTRACT_DETAILS = 9
REQ_AUTO_OPEN_ORDERS = 15
REQ_ALL_OPEN_ORDERS = 16
REQ_MANAGED_ACCTS = 17
REQ_HISTORICAL_DATA = 20
CANCEL_HISTORICAL_DATA = 25
REQ_CURRENT_TIME = 49
REQ_MARKET_DATA_TYPE = 59
REQ_POSITIONS = 61
REQ_ACCOUNT_SUMMARY = 62
CANCEL_ACCOUNT_SUMMARY = 63
CANCEL_POSITIONS = 64
START_API = 71
REQ_ACCOUNT_UPDATES_MULTI = 76
CANCEL_ACCOUNT_UPDATES_MULTI = 77
REQ_COMPLETED_ORDERS = 99

# Tick types of a market data snapshot.
TICK_BID, TICK_ASK, TICK_LAST, TICK_VOLUME = 1, 2, 4, 8
DELAYED_TICK_BID, DELAYED_TICK_ASK, DELAYED_TICK_LAST, DELAYED_TICK_VOLUME = 66, 67, 68, 74
# reqMarketDataType: 1 live, 2 frozen, 3 delayed, 4 delayed frozen
MARKET_DATA_LIVE, MARKET_DATA_DELAYED = 1, 3

# Real IBKR message codes.
ERR_PACING_VIOLATION = 162
ERR_MESSAGE_RATE = 100  # more than 50 messages a second from one client
ERR_CANNOT_MODIFY = 104
ERR_NO_SECURITY_DEFINITION = 200
ERR_ORDER_REJECTED = 201
ERR_ORDER_CANCELLED = 202
ERR_DUPLICATE_ORDER_ID = 103
ERR_DUPLICATE_CLIENT_ID = 326
ERR_CANCEL_UNKNOWN_ORDER = 10147
ERR_CANCEL_DONE_ORDER = 10148
ERR_CONNECTIVITY_LOST = 1100
ERR_CONNECTIVITY_RESTORED = 1102
INFO_MARKET_DATA_FARM_OK = 2104
INFO_HMDS_FARM_OK = 2106
INFO_SEC_DEF_FARM_OK = 2158

NO_REQ_ID = -1
TRADING_HOURS = "20240102:0930-20240102:1600"


def tws_time(moment: datetime) -> str:
    """A timestamp as TWS writes it with an explicit zone ("20240102 15:30:00 UTC")."""
    return moment.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")


def price_field(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


# --- incoming --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestedContract:
    """The 12 contract fields ib_insync sends in requests."""

    conid: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    expiry: str = ""

    @classmethod
    def from_fields(cls, fields: list[str]) -> "RequestedContract":
        conid, symbol, sec_type, expiry, _strike, _right, _mult, exchange, primary, currency = fields[:10]
        return cls(int(conid or 0), symbol.upper(), sec_type, exchange, primary, currency, expiry)

    def describe(self) -> str:
        return f"{self.symbol or self.conid} {self.sec_type} {self.exchange} {self.currency}".strip()


@dataclass(frozen=True)
class PlaceOrderRequest:
    """The leading fields of placeOrder: everything a stock order or a bracket leg carries."""

    order_id: int
    contract: RequestedContract
    action: str
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    tif: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int

    @classmethod
    def from_fields(cls, fields: list[str]) -> "PlaceOrderRequest":
        # fields: 3, orderId, contract x12, secIdType, secId, action, totalQuantity, orderType,
        # lmtPrice, auxPrice, tif, ocaGroup, account, openClose, origin, orderRef, transmit, parentId, ...
        contract = RequestedContract.from_fields(fields[2:14])
        action, quantity, order_type, limit_price, aux_price = fields[16:21]
        tif, _oca, account, _open_close, _origin, order_ref, transmit, parent_id = fields[21:29]
        return cls(
            order_id=int(fields[1]),
            contract=contract,
            action=action,
            quantity=decimal_field(quantity) or Decimal("0"),
            order_type=order_type,
            limit_price=decimal_field(limit_price),
            stop_price=decimal_field(aux_price),
            tif=tif or "DAY",
            account=account,
            order_ref=order_ref,
            transmit=transmit != "0",
            parent_id=int(parent_id or 0),
        )


@dataclass(frozen=True)
class HistoricalDataRequest:
    req_id: int
    contract: RequestedContract
    end: str
    bar_size: str
    duration: str
    what_to_show: str
    format_date: int
    keep_up_to_date: bool

    @classmethod
    def from_fields(cls, fields: list[str]) -> "HistoricalDataRequest":
        # fields: 20, reqId, contract x12, includeExpired, endDateTime, barSize, duration, useRTH,
        # whatToShow, formatDate, keepUpToDate, chartOptions
        end, bar_size, duration, _use_rth, what_to_show, format_date, keep_up_to_date = fields[15:22]
        return cls(
            req_id=int(fields[1]),
            contract=RequestedContract.from_fields(fields[2:14]),
            end=end,
            bar_size=bar_size,
            duration=duration,
            what_to_show=what_to_show,
            format_date=int(format_date or 1),
            keep_up_to_date=keep_up_to_date == "1",
        )


@dataclass(frozen=True)
class ExecutionFilter:
    client_id: int
    symbol: str
    side: str

    @classmethod
    def from_fields(cls, fields: list[str]) -> "ExecutionFilter":
        # fields: 7, 3, reqId, clientId, acctCode, time, symbol, secType, exchange, side
        client_id, _account, _time, symbol, _sec_type, _exchange, side = fields[3:10]
        return cls(int(client_id or 0), symbol.upper(), side.upper())

    def matches(self, execution: ExecutionRecord) -> bool:
        order = execution.order
        return (
            (not self.client_id or self.client_id == order.client_id)
            and (not self.symbol or self.symbol == order.contract.symbol)
            and (not self.side or self.side[:1] == order.action[:1])
        )


def decimal_field(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


# --- outgoing --------------------------------------------------------------------------------


def _contract_fields(contract: ContractInfo) -> list:
    """conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, currency,
    localSymbol, tradingClass: the 11-field contract of openOrder, execDetails and friends."""
    return [
        contract.conid,
        contract.symbol,
        contract.sec_type,
        contract.expiry,
        "0",
        "",
        contract.multiplier,
        route_exchange(contract),
        contract.currency,
        local_symbol(contract),
        contract.symbol,
    ]


def primary_exchange(contract: ContractInfo) -> str:
    if contract.primary_exchange or contract.sec_type != "STK":
        return contract.primary_exchange
    return "" if contract.exchange == "SMART" else contract.exchange


def route_exchange(contract: ContractInfo) -> str:
    """Where orders for it go: SMART for stocks, the contract's own exchange for FX and futures."""
    return "SMART" if contract.sec_type == "STK" else contract.exchange


def local_symbol(contract: ContractInfo) -> str:
    return contract.local_symbol or contract.symbol


def server_hello(connection_time: datetime) -> list:
    return [SERVER_VERSION, connection_time.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")]


def error(req_id: int, code: int, message: str) -> list:
    return [4, 2, req_id, code, message, ""]


def next_valid_id(order_id: int) -> list:
    return [9, 1, order_id]


def managed_accounts(account_id: str) -> list:
    return [15, 1, account_id]


def current_time(moment: datetime) -> list:
    return [49, 1, int(moment.timestamp())]


def contract_details(req_id: int, contract: ContractInfo) -> list:
    return [
        10,
        req_id,
        contract.symbol,
        contract.sec_type,
        contract.expiry,  # lastTradeDate
        "0",  # strike
        "",  # right
        route_exchange(contract),
        contract.currency,
        local_symbol(contract),  # localSymbol
        contract.symbol,  # marketName
        contract.symbol,  # tradingClass
        contract.conid,
        "0.01",  # minTick
        contract.multiplier,
        "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,AVGCOST,BASKET,COND,DAY,GTC,LMT,MKT,STP,STPLMT,TRAIL",
        ",".join(dict.fromkeys(filter(None, [route_exchange(contract), primary_exchange(contract)]))),
        1,  # priceMagnifier
        0,  # underConId
        contract.name,
        primary_exchange(contract),
        contract.expiry[:6],  # contractMonth
        "",  # industry
        "",  # category
        "",  # subcategory
        "US/Eastern",
        TRADING_HOURS,
        TRADING_HOURS,
        "",  # evRule
        "",  # evMultiplier
        0,  # number of secIds
        1,  # aggGroup
        "",  # underSymbol
        "",  # underSecType
        "26,26",  # marketRuleIds
        "",  # realExpirationDate
        "COMMON",  # stockType
        "1",  # minSize
        "1",  # sizeIncrement
        "100",  # suggestedSizeIncrement
    ]


def contract_details_end(req_id: int) -> list:
    return [52, 1, req_id]


def historical_data(req_id: int, start: datetime, end: datetime, bars: list[tuple]) -> list:
    """`bars` are (date text, open, high, low, close, volume) tuples, oldest first."""
    fields = [17, req_id, tws_time(start), tws_time(end), len(bars)]
    for date, open_, high, low, close, volume in bars:
        average = round((high + low + close) / 3, 6)
        fields += [date, open_, high, low, close, volume, average, 1]
    return fields


def tick_price(req_id: int, tick_type: int, price, size) -> list:
    return [1, 6, req_id, tick_type, price, size, 0]


def tick_size(req_id: int, tick_type: int, size) -> list:
    return [2, 6, req_id, tick_type, size]


def market_data_type(req_id: int, data_type: int = 1) -> list:
    return [58, 1, req_id, data_type]


def tick_snapshot_end(req_id: int) -> list:
    return [57, 1, req_id]


def order_status(order: OrderRecord) -> list:
    return [
        3,
        order.order_id,
        order.status,
        order.filled,
        order.remaining,
        price_field(order.avg_fill_price) or "0",
        order.perm_id,
        order.parent_id,
        price_field(order.last_fill_price) or "0",
        order.client_id,
        "",  # whyHeld
        "0",  # mktCapPrice
    ]


def _order_terms(order: OrderRecord) -> list:
    """action .. orderRef, the order fields openOrder and completedOrder both start with."""
    return [
        order.action,
        order.quantity,
        order.order_type,
        price_field(order.limit_price),
        price_field(order.stop_price),  # auxPrice
        order.tif,
        "",  # ocaGroup
        order.account,
        "O",  # openClose
        0,  # origin: customer
        order.order_ref,
    ]


def open_order(order: OrderRecord) -> list:
    return [
        5,
        order.order_id,
        *_contract_fields(order.contract),
        *_order_terms(order),
        order.client_id,
        order.perm_id,
        0,  # outsideRth
        0,  # hidden
        0,  # discretionaryAmt
        "",  # goodAfterTime
        "",  # sharesAllocation (deprecated)
        *["", "", "", ""],  # faGroup, faMethod, faPercentage, faProfile
        "",  # modelCode
        "",  # goodTillDate
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        0,  # auctionStrategy
        *["", "", "", "", ""],  # startingPrice, stockRefPrice, delta, stockRangeLower, stockRangeUpper
        "",  # displaySize
        0,  # blockOrder
        0,  # sweepToFill
        0,  # allOrNone
        "",  # minQty
        0,  # ocaType
        0,  # eTradeOnly
        0,  # firmQuoteOnly
        "",  # nbboPriceCap
        order.parent_id,
        0,  # triggerMethod
        "",  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType (empty: no delta-neutral block follows)
        "",  # deltaNeutralAuxPrice
        0,  # continuousUpdate
        0,  # referencePriceType
        "",  # trailStopPrice
        "",  # trailingPercent
        "",  # basisPoints
        "",  # basisPointsType
        "",  # comboLegsDescrip
        0,  # number of combo legs
        0,  # number of order combo legs
        0,  # number of smart combo routing params
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement (empty: no scale block follows)
        "",  # hedgeType (empty: no hedgeParam follows)
        0,  # optOutSmartRouting
        "",  # clearingAccount
        "",  # clearingIntent
        0,  # notHeld
        0,  # delta-neutral contract present
        "",  # algoStrategy (empty: no algo params follow)
        0,  # solicited
        0,  # whatIf
        order.status,
        *[""] * 9,  # initMargin/maintMargin/equityWithLoan before, change and after
        "",  # commission
        "",  # minCommission
        "",  # maxCommission
        "",  # commissionCurrency
        "",  # warningText
        0,  # randomizeSize
        0,  # randomizePrice
        0,  # number of conditions
        "",  # adjustedOrderType
        "",  # triggerPrice
        "",  # trailStopPrice
        "",  # lmtPriceOffset
        "",  # adjustedStopPrice
        "",  # adjustedStopLimitPrice
        "",  # adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        *["", "", ""],  # softDollarTier name, value, display name
        "",  # cashQty
        0,  # dontUseAutoPriceForHedge
        0,  # isOmsContainer
        0,  # discretionaryUpToLimitPrice
        0,  # usePriceMgmtAlgo
        "",  # duration (server version >= 159)
        "",  # postToAts (>= 160)
        0,  # autoCancelParent (>= 162)
        *["", "", "", "", ""],  # minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsets (>= 170)
    ]


def open_order_end() -> list:
    return [53, 1]


def completed_order(order: OrderRecord) -> list:
    completed_at = order.completed_at or datetime.now(UTC)
    return [
        101,
        *_contract_fields(order.contract),
        *_order_terms(order),
        order.perm_id,
        0,  # outsideRth
        0,  # hidden
        0,  # discretionaryAmt
        "",  # goodAfterTime
        *["", "", "", ""],  # faGroup, faMethod, faPercentage, faProfile
        "",  # modelCode
        "",  # goodTillDate
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        *["", "", "", "", ""],  # startingPrice, stockRefPrice, delta, stockRangeLower, stockRangeUpper
        "",  # displaySize
        0,  # sweepToFill
        0,  # allOrNone
        "",  # minQty
        0,  # ocaType
        0,  # triggerMethod
        "",  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType
        "",  # deltaNeutralAuxPrice
        0,  # continuousUpdate
        0,  # referencePriceType
        "",  # trailStopPrice
        "",  # trailingPercent
        "",  # comboLegsDescrip
        0,  # number of combo legs
        0,  # number of order combo legs
        0,  # number of smart combo routing params
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement
        "",  # hedgeType
        "",  # clearingAccount
        "",  # clearingIntent
        0,  # notHeld
        0,  # delta-neutral contract present
        "",  # algoStrategy
        0,  # solicited
        order.status,
        0,  # randomizeSize
        0,  # randomizePrice
        0,  # number of conditions
        "",  # trailStopPrice
        "",  # lmtPriceOffset
        "",  # cashQty
        0,  # dontUseAutoPriceForHedge
        0,  # isOmsContainer
        "",  # autoCancelDate
        order.filled,
        0,  # refFuturesConId
        0,  # autoCancelParent
        "",  # shareholder
        0,  # imbalanceOnly
        0,  # routeMarketableToBbo
        0,  # parentPermId
        tws_time(completed_at),
        order.status,  # completedStatus
        *["", "", "", "", ""],  # minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsets (>= 170)
    ]


def completed_orders_end() -> list:
    return [102]


def exec_details(req_id: int, execution: ExecutionRecord) -> list:
    order, fill = execution.order, execution.fill
    return [
        11,
        req_id,
        order.order_id,
        *_contract_fields(order.contract),
        fill.exec_id,
        tws_time(fill.time),
        order.account,
        primary_exchange(order.contract) or "ISLAND",
        "BOT" if order.action == "BUY" else "SLD",
        fill.quantity,
        price_field(fill.price),
        order.perm_id,
        order.client_id,
        0,  # liquidation
        execution.cumulative_quantity,
        price_field(execution.average_price),
        order.order_ref,
        "",  # evRule
        "",  # evMultiplier
        "",  # modelCode
        1,  # lastLiquidity: added liquidity
    ]


def exec_details_end(req_id: int) -> list:
    return [55, 1, req_id]


def commission_report(execution: ExecutionRecord) -> list:
    return [59, 1, execution.fill.exec_id, price_field(execution.fill.commission), "USD", "", "", ""]


def _per_contract(contract: ContractInfo, price: Decimal) -> Decimal:
    """A price per contract as TWS reports a future's avgCost and market value: times the multiplier."""
    return price * Decimal(contract.multiplier) if contract.multiplier else price


def position(account_id: str, contract: ContractInfo, quantity: Decimal, average_cost: Decimal) -> list:
    average_cost = _per_contract(contract, average_cost)
    return [61, 3, account_id, *_contract_fields(contract), quantity, price_field(average_cost)]


def position_end() -> list:
    return [62, 1]


def update_account_value(key: str, value: str, currency: str, account_id: str) -> list:
    return [6, 2, key, value, currency, account_id]


def update_portfolio(
    account_id: str, contract: ContractInfo, quantity: Decimal, market_price: Decimal, average_cost: Decimal
) -> list:
    market_value = quantity * _per_contract(contract, market_price)
    average_cost = _per_contract(contract, average_cost)
    unrealized = market_value - quantity * average_cost
    return [
        7,
        8,
        contract.conid,
        contract.symbol,
        contract.sec_type,
        contract.expiry,  # lastTradeDate
        "0",  # strike
        "",  # right
        contract.multiplier,
        primary_exchange(contract) or route_exchange(contract),
        contract.currency,
        local_symbol(contract),
        contract.symbol,
        quantity,
        price_field(market_price),
        price_field(market_value),
        price_field(average_cost),
        price_field(unrealized),
        "0",  # realizedPNL
        account_id,
    ]


def update_account_time(moment: datetime) -> list:
    return [8, 1, moment.astimezone(UTC).strftime("%H:%M")]


def account_download_end(account_id: str) -> list:
    return [54, 1, account_id]


def account_summary(req_id: int, account_id: str, tag: str, value: str, currency: str) -> list:
    return [63, 1, req_id, account_id, tag, value, currency]


def account_summary_end(req_id: int) -> list:
    return [64, 1, req_id]


def account_update_multi(req_id: int, account_id: str, key: str, value: str, currency: str) -> list:
    return [73, 1, req_id, account_id, "", key, value, currency]


def account_update_multi_end(req_id: int) -> list:
    return [74, 1, req_id]
