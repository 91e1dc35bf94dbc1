from decimal import Decimal

from ib_insync import LimitOrder

from broker.models import SimulatedOrder
from broker.simulation import SimulatedExchange

from .conftest import on_own_connection, wait_until

# Above every SLOW price of the replayed afternoon, so each minute bar fills what its volume allows.
MARKETABLE_LIMIT = 64.00
RESTING_LIMIT = 50.00


def test_a_large_limit_order_fills_in_parts(ib, slow_stock):
    trade = ib.placeOrder(slow_stock, LimitOrder("BUY", 300, MARKETABLE_LIMIT, orderRef="large-buy"))
    seen = []
    trade.statusEvent += lambda t: seen.append((t.orderStatus.status, t.orderStatus.filled))

    wait_until(ib, trade.isDone)

    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.filled == 300 and trade.orderStatus.remaining == 0
    assert len(trade.fills) >= 2
    assert sum(fill.execution.shares for fill in trade.fills) == 300
    assert all(fill.execution.price <= MARKETABLE_LIMIT for fill in trade.fills)
    assert all(fill.commissionReport.commission > 0 for fill in trade.fills)
    assert all(fill.execution.orderRef == "large-buy" for fill in trade.fills)
    partial = [filled for status, filled in seen if status == "Submitted" and 0 < filled < 300]
    assert partial, f"no partially filled status among {seen}"
    assert seen[-1] == ("Filled", 300)


def test_it_cancels_a_resting_order(ib, slow_stock):
    trade = ib.placeOrder(slow_stock, LimitOrder("BUY", 100, RESTING_LIMIT))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted")

    ib.cancelOrder(trade.order)
    wait_until(ib, trade.isDone)

    assert trade.orderStatus.status == "Cancelled"
    assert trade.fills == []
    assert ib.reqOpenOrders() == []
    [completed] = ib.reqCompletedOrders(apiOnly=True)
    assert completed.orderStatus.status == "Cancelled"
    assert completed.order.permId == trade.order.permId


def test_positions_and_account_values_follow_fills(gateway, ib, slow_stock):
    trade = ib.placeOrder(slow_stock, LimitOrder("BUY", 300, MARKETABLE_LIMIT))
    wait_until(ib, trade.isDone)
    # Position updates stream in on their own, as from TWS: no order between them and the fills.
    wait_until(ib, lambda: [p.position for p in ib.positions()] == [300])

    [position] = ib.positions()
    assert position.account == gateway.account_id
    assert position.contract.conId == slow_stock.conId
    assert position.position == 300
    assert abs(position.avgCost - trade.orderStatus.avgFillPrice) < 1e-6

    exchange_account = on_own_connection(
        lambda: SimulatedExchange(account_id=gateway.account_id).account_summary(now=gateway.clock.now())
    )
    def usd_values():
        return {v.tag: v.value for v in ib.accountValues() if v.currency == "USD" and not v.modelCode}

    # Account values stream in on their own too, and may trail the last fill by a moment.
    wait_until(ib, lambda: Decimal(usd_values().get("TotalCashValue", "0")) == exchange_account.cash)
    values = usd_values()
    assert Decimal(values["TotalCashValue"]) < Decimal("100000") - Decimal(300 * 62)
    summary = {v.tag: v.value for v in ib.accountSummary()}
    assert summary["AccountType"] == "INDIVIDUAL"
    assert Decimal(summary["TotalCashValue"]) == exchange_account.cash
    assert Decimal(summary["NetLiquidation"]) > exchange_account.cash

    fills = ib.reqExecutions()
    assert sorted(f.execution.execId for f in fills) == sorted(f.execution.execId for f in trade.fills)


def test_it_rejects_an_order_the_exchange_cannot_pay_for_with_error_201(ib, slow_stock):
    errors = []
    ib.errorEvent += lambda req_id, code, message, contract: errors.append((req_id, code, message))

    trade = ib.placeOrder(slow_stock, LimitOrder("BUY", 10_000, MARKETABLE_LIMIT))
    wait_until(ib, trade.isDone)

    assert trade.orderStatus.status == "Cancelled"
    [(req_id, code, message)] = errors
    assert (req_id, code) == (trade.order.orderId, 201)
    assert "Insufficient cash" in message


def test_a_bracket_arms_its_exits_after_the_entry_fills_and_one_cancels_the_other(ib, slow_stock):
    # SLOW dips to 63.00 around 14:44 of the replayed afternoon and stays below 63.50 until 15:48.
    entry, take_profit, stop_loss = ib.bracketOrder("BUY", 50, MARKETABLE_LIMIT, 63.50, 63.00)
    trades = [ib.placeOrder(slow_stock, order) for order in (entry, take_profit, stop_loss)]

    wait_until(ib, lambda: all(trade.isDone() for trade in trades))

    assert [t.orderStatus.status for t in trades] == ["Filled", "Cancelled", "Filled"]
    entry_trade, _, stop_trade = trades
    assert stop_trade.order.parentId == entry_trade.order.orderId
    assert sum(fill.execution.shares for fill in stop_trade.fills) == 50
    assert all(fill.execution.side == "SLD" and fill.execution.price <= 63.00 for fill in stop_trade.fills)
    wait_until(ib, lambda: ib.positions() == [])  # the position closes, and ib_insync drops it


def test_placing_an_order_again_with_its_id_modifies_it(gateway, ib, slow_stock):
    trade = ib.placeOrder(slow_stock, LimitOrder("BUY", 100, RESTING_LIMIT, orderRef="modified"))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted")

    trade.order.lmtPrice = RESTING_LIMIT - 1
    trade.order.totalQuantity = 120
    ib.placeOrder(slow_stock, trade.order)
    wait_until(ib, lambda: trade.log[-1].message != "Modify")  # ib_insync logs the answer after its "Modify"

    resting = on_own_connection(
        lambda: list(
            SimulatedOrder.objects.filter(account__account_id=gateway.account_id, order_ref="modified").values_list(
                "quantity", "limit_price", "status"
            )
        )
    )
    assert resting == [(Decimal("120"), Decimal("49.00"), "submitted")]
    assert trade.orderStatus.remaining == 120 and not any(entry.errorCode for entry in trade.log)


def test_a_filled_order_cannot_be_modified(gateway, ib, slow_stock):
    trade = ib.placeOrder(slow_stock, LimitOrder("BUY", 5, MARKETABLE_LIMIT, orderRef="filled-then-modified"))
    wait_until(ib, trade.isDone)

    errors = []
    ib.errorEvent += lambda req_id, code, message, contract: errors.append((req_id, code))
    ib.client.placeOrder(trade.order.orderId, slow_stock, LimitOrder("BUY", 9, MARKETABLE_LIMIT, orderRef="x"))
    wait_until(ib, lambda: (trade.order.orderId, 104) in errors)

    filled = on_own_connection(
        lambda: list(
            SimulatedOrder.objects.filter(
                account__account_id=gateway.account_id, order_ref="filled-then-modified"
            ).values_list("quantity", "status")
        )
    )
    assert filled == [(Decimal("5"), "filled")]
