"""The IBKR adapter's translations, checked with real ib_insync objects, and failing closed without a gateway."""

import socket
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from ib_insync import (
    AccountValue,
    BarData,
    CommissionReport,
    Contract,
    Execution,
    Fill,
    LimitOrder,
    MarketOrder,
    OrderStatus,
    Trade,
    TradeLogEntry,
)

from broker.adapters.base import BrokerUnavailable, OrderRequest, PermanentBrokerError, TransientBrokerError
from broker.adapters.ibkr import (
    IBKRAdapter,
    account_numbers,
    bar_size_setting,
    bars_from_ib,
    broker_error,
    build_orders,
    duration_str,
    is_paper_account,
    merge_orders_by_ref,
    order_state_from_trade,
)
from broker.pacing import HistoricalPacer

AAPL = Contract(conId=265598, symbol="AAPL", secType="STK", exchange="SMART", currency="USD")
WHEN = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)


def fill(exec_id, shares, price, ref="dec-1", perm_id=9001, commission=1.0):
    execution = Execution(execId=exec_id, time=WHEN, shares=shares, price=price, permId=perm_id, orderRef=ref)
    return Fill(AAPL, execution, CommissionReport(execId=exec_id, commission=commission, currency="USD"), WHEN)


def trade(status, filled=0.0, avg=0.0, fills=(), ref="dec-1", perm_id=9001, log=()):
    order = LimitOrder("BUY", 100, 190.5, orderRef=ref, permId=perm_id, orderId=7, clientId=12)
    return Trade(
        contract=AAPL,
        order=order,
        orderStatus=OrderStatus(orderId=7, status=status, filled=filled, remaining=100 - filled, avgFillPrice=avg),
        fills=list(fills),
        log=list(log),
    )


@pytest.mark.parametrize(
    ("period", "expected"), [("1y", "1 Y"), ("5d", "5 D"), ("6m", "6 M"), ("2w", "2 W"), ("5y", "5 Y")]
)
def test_periods_map_to_ib_durations(period, expected):
    assert duration_str(period) == expected


@pytest.mark.parametrize(
    ("bar", "expected"),
    [("1d", "1 day"), ("1w", "1 week"), ("1M", "1 month"), ("5min", "5 mins"), ("1min", "1 min"), ("1h", "1 hour")],
)
def test_bar_sizes_map_to_ib_settings(bar, expected):
    assert bar_size_setting(bar) == expected


def test_unknown_timeframes_are_refused():
    with pytest.raises(ValueError):
        duration_str("forever")
    with pytest.raises(ValueError):
        bar_size_setting("3d")


def test_bars_become_utc_dicts_oldest_first():
    bars = [
        BarData(date=date(2026, 11, 18), open=1, high=3, low=0.5, close=2, volume=1000),
        BarData(date=date(2026, 11, 17), open=1.5, high=2, low=1, close=1, volume=-1),
        BarData(date=datetime(2026, 11, 19, 14, 30, tzinfo=UTC), open=2, high=2, low=2, close=2, volume=5),
    ]
    converted = bars_from_ib(bars)
    assert [b["t"] for b in converted] == [
        "2026-11-17T00:00:00+00:00",
        "2026-11-18T00:00:00+00:00",
        "2026-11-19T14:30:00+00:00",
    ]
    assert converted[1] == {"t": "2026-11-18T00:00:00+00:00", "o": 1.0, "h": 3.0, "l": 0.5, "c": 2.0, "v": 1000.0}
    assert converted[0]["v"] == 0.0  # IB sends -1 when it has no volume


def test_a_limit_order_carries_tif_account_and_order_ref():
    ids = iter(range(100, 110))
    request = OrderRequest(
        conid=265598,
        symbol="AAPL",
        side="BUY",
        quantity=Decimal("10"),
        order_type="LMT",
        limit_price=Decimal("190.25"),
        tif="GTC",
        order_ref="exec-5:dec-9",
    )
    [order] = build_orders(request, "DU123456", lambda: next(ids))
    assert (order.action, order.orderType, order.totalQuantity, order.lmtPrice) == ("BUY", "LMT", 10.0, 190.25)
    assert (order.tif, order.orderRef, order.account, order.transmit) == ("GTC", "exec-5:dec-9", "DU123456", True)


def test_a_market_order_with_exits_becomes_a_bracket():
    ids = iter(range(100, 110))
    request = OrderRequest(
        conid=265598,
        symbol="AAPL",
        side="SELL",
        quantity=Decimal("5"),
        order_type="MKT",
        limit_price=None,
        tif="DAY",
        order_ref="r",
        take_profit=Decimal("170"),
        stop_loss=Decimal("200"),
    )
    entry, take_profit, stop_loss = build_orders(request, "DU1", lambda: next(ids))
    assert (entry.orderType, entry.tif, entry.transmit) == ("MKT", "DAY", False)
    assert (take_profit.action, take_profit.orderType, take_profit.lmtPrice) == ("BUY", "LMT", 170.0)
    assert (stop_loss.action, stop_loss.orderType, stop_loss.auxPrice) == ("BUY", "STP", 200.0)
    assert take_profit.parentId == stop_loss.parentId == entry.orderId == 100
    assert stop_loss.transmit and not take_profit.transmit


@pytest.mark.parametrize(
    ("ib_status", "filled", "expected"),
    [
        ("PendingSubmit", 0, "pending"),
        ("PreSubmitted", 0, "submitted"),
        ("Submitted", 40, "partially_filled"),
        ("Filled", 100, "filled"),
        ("Cancelled", 0, "cancelled"),
        ("Inactive", 0, "rejected"),
    ],
)
def test_ib_order_statuses_map_to_ours(ib_status, filled, expected):
    assert order_state_from_trade(trade(ib_status, filled=filled, avg=190.4 if filled else 0)).status == expected


def test_a_filled_trade_reports_fills_and_average():
    fills = [fill("e1", 60, 190.4), fill("e2", 40, 190.5, commission=1.7976931348623157e308)]
    state = order_state_from_trade(trade("Filled", filled=100, avg=190.44, fills=fills))
    assert state.broker_order_id == "9001"
    assert state.order_ref == "dec-1"
    assert state.filled_quantity == Decimal("100.0")
    assert state.avg_fill_price == Decimal("190.44")
    assert [(f.exec_id, f.quantity, f.price, f.commission) for f in state.fills] == [
        ("e1", Decimal("60.0"), Decimal("190.4"), Decimal("1.0")),
        ("e2", Decimal("40.0"), Decimal("190.5"), Decimal("0.0")),  # IB's "not yet known" commission
    ]


def test_an_order_ib_refused_is_rejected_with_its_code_and_message():
    refusal = TradeLogEntry(WHEN, "Cancelled", "Order rejected - reason: insufficient funds", 201)
    state = order_state_from_trade(trade("Cancelled", log=[refusal]))
    assert state.status == "rejected"
    assert state.message == "[201] Order rejected - reason: insufficient funds"


def test_orders_by_ref_come_from_open_and_completed_orders_and_executions():
    open_trade = trade("Submitted", perm_id=1)
    completed = trade("Filled", filled=100, avg=190.0, perm_id=2)
    other = trade("Submitted", ref="someone-else", perm_id=3)
    lone_executions = [fill("e9", 30, 191.0, perm_id=4), fill("e10", 20, 192.0, perm_id=4)]

    states = merge_orders_by_ref("dec-1", [open_trade, completed, open_trade, other], lone_executions)

    by_id = {state.broker_order_id: state for state in states}
    assert set(by_id) == {"1", "2", "4"}
    assert by_id["2"].status == "filled"
    assert by_id["4"].status == "needs_reconciliation"
    assert by_id["4"].filled_quantity == Decimal("50.0")
    assert by_id["4"].avg_fill_price == Decimal("191.4")


def test_a_market_order_without_fills_has_no_average():
    market = Trade(
        contract=AAPL, order=MarketOrder("SELL", 3, orderRef="x"), orderStatus=OrderStatus(status="Submitted")
    )
    state = order_state_from_trade(market)
    assert state.avg_fill_price is None and state.filled_quantity == 0
    assert state.broker_order_id == "c0-o0"


def test_account_values_give_equity_cash_and_the_brokers_exchange_rates():
    values = [
        AccountValue("DU1", "NetLiquidation", "101234.56", "USD", ""),
        AccountValue("DU1", "TotalCashValue", "5000", "EUR", ""),
        AccountValue("DU1", "TotalCashValue", "45000.10", "BASE", ""),
        AccountValue("DU1", "ExchangeRate", "1.00", "BASE", ""),
        AccountValue("DU1", "ExchangeRate", "1.0852", "EUR", ""),
        AccountValue("DU1", "ExchangeRate", "0.00671", "JPY", ""),
        AccountValue("DU2", "NetLiquidation", "1", "USD", ""),
        AccountValue("DU2", "ExchangeRate", "1.30", "GBP", ""),
    ]
    assert account_numbers(values, "DU1") == (
        Decimal("101234.56"),
        Decimal("45000.10"),
        "USD",
        {"EUR": Decimal("1.0852"), "JPY": Decimal("0.00671")},
    )


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (162, TransientBrokerError),
        (366, TransientBrokerError),
        (1100, BrokerUnavailable),
        (1102, TransientBrokerError),
        (2105, TransientBrokerError),
        (502, BrokerUnavailable),
        (200, PermanentBrokerError),
        (201, PermanentBrokerError),
        (203, PermanentBrokerError),
        (321, PermanentBrokerError),
    ],
)
def test_ib_errors_keep_their_code_and_message(code, kind):
    error = broker_error(code, "what IB said")
    assert type(error) is kind
    assert (error.code, error.message) == (code, "what IB said")


def test_it_fails_closed_when_the_gateway_is_unreachable(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        settings.IBKR_PORT = probe.getsockname()[1]  # nothing listens once the probe closes
    settings.IBKR_HOST, settings.IBKR_TIMEOUT = "127.0.0.1", 2.0
    adapter = IBKRAdapter(client_id=77, pacer=HistoricalPacer())

    with pytest.raises(BrokerUnavailable, match="unreachable"):
        adapter.account_summary()
    with pytest.raises(BrokerUnavailable):
        adapter.qualify("AAPL")
    status = adapter.status()
    assert not status.connected and not status.authenticated and "unreachable" in status.message


def test_a_completed_order_reports_its_filled_quantity():
    completed = trade("Filled")
    completed.order.filledQuantity = 100.0
    assert order_state_from_trade(completed).filled_quantity == Decimal("100.0")


def test_only_du_and_df_accounts_are_paper():
    assert is_paper_account("DU1234567") and is_paper_account("DF99")
    assert not is_paper_account("U1234567")
