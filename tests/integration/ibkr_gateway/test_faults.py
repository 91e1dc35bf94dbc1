import pytest
from ib_insync import IB, LimitOrder, Stock

from broker.gateway_sim.history import PacingMonitor

from .conftest import wait_until


def record_errors(ib) -> list[tuple[int, int]]:
    errors = []
    ib.errorEvent += lambda req_id, code, message, contract: errors.append((req_id, code))
    return errors


def request_daily_bars(ib, **kwargs) -> list:
    return list(
        ib.reqHistoricalData(
            Stock("AAPL", "SMART", "USD"),
            endDateTime="",
            durationStr="1 M",
            barSizeSetting="1 day",
            whatToShow="TRADES",
            useRTH=True,
            **kwargs,
        )
    )


def test_it_answers_a_pacing_violation_with_error_162_when_told(gateway, ib):
    errors = record_errors(ib)
    gateway.faults.pacing_violation_next()

    assert request_daily_bars(ib) == []
    assert [code for _, code in errors] == [162]
    assert len(request_daily_bars(ib)) > 15


def test_enforced_pacing_lets_identical_daily_requests_through(gateway, ib):
    gateway.pacing = PacingMonitor()
    errors = record_errors(ib)

    assert all(request_daily_bars(ib) for _ in range(8))  # 8 identical requests, one contract, within 2 s
    assert errors == []


def test_enforced_pacing_refuses_small_bars_beyond_the_hard_limits():
    monitor = PacingMonitor()
    thirty_seconds = (1, "", "1800 S", "30 secs", "TRADES")
    assert monitor.allows(1, thirty_seconds, 30, now=100.0)
    monitor.finished()
    assert not monitor.allows(1, thirty_seconds, 30, now=110.0)  # identical within 15 s
    assert monitor.allows(1, thirty_seconds, 30, now=115.5)
    monitor.finished()
    others = [(1, "", f"{n} D", "5 secs", "TRADES") for n in range(1, 7)]  # with the one at 115.5: 7 in 2 s
    assert [monitor.allows(1, key, 5, now=116.0) for key in others] == [True] * 5 + [False]


def test_enforced_pacing_caps_requests_in_flight_at_50_for_every_bar_size():
    monitor = PacingMonitor()
    daily = [(n, "", "1 Y", "1 day", "TRADES") for n in range(51)]
    assert [monitor.allows(n, key, 86400, now=100.0) for n, key in enumerate(daily)] == [True] * 50 + [False]
    monitor.finished()
    assert monitor.allows(50, daily[50], 86400, now=100.0)


def test_enforced_pacing_answers_more_than_50_messages_a_second_with_error_100(gateway, connect):
    gateway.pacing = PacingMonitor()
    ib = connect(7)
    ib.client.MaxRequests = 0  # ib_insync's own throttle off: this client floods the gateway
    errors = record_errors(ib)

    for _ in range(80):
        ib.client.reqCurrentTime()
    wait_until(ib, lambda: any(code == 100 for _, code in errors))

    refused = sum(code == 100 for _, code in errors)
    assert 30 <= refused < 80  # at least those beyond 50 in the second (the connection's own requests count too)


def test_it_rejects_the_next_order_with_error_201_when_told(gateway, ib, slow_stock):
    errors = record_errors(ib)
    gateway.faults.reject_next_order("Margin check failed")

    rejected = ib.placeOrder(slow_stock, LimitOrder("BUY", 10, 50.0))
    wait_until(ib, rejected.isDone)
    accepted = ib.placeOrder(slow_stock, LimitOrder("BUY", 10, 50.0))
    wait_until(ib, lambda: accepted.orderStatus.status == "Submitted")

    assert rejected.orderStatus.status == "Cancelled"
    assert (rejected.order.orderId, 201) in errors
    assert rejected.log[-1].errorCode == 201 and "Margin check failed" in rejected.log[-1].message
    assert [t.order.orderId for t in ib.reqOpenOrders()] == [accepted.order.orderId]


def test_delayed_responses_outlast_a_short_client_timeout(gateway, ib):
    gateway.faults.delay_responses(1.0)
    assert request_daily_bars(ib, timeout=0.3) == []

    gateway.faults.delay_responses(0)
    wait_until(ib, lambda: request_daily_bars(ib, timeout=2))


def test_a_dropped_client_hears_1100_then_1102_when_it_reconnects(gateway, ib):
    errors = record_errors(ib)

    gateway.drop_connections()
    # ib_insync's sync API raises the disconnect out of whatever it was waiting on.
    with pytest.raises(ConnectionError):
        wait_until(ib, lambda: not ib.isConnected())
    ib.connect("127.0.0.1", gateway.port, clientId=1, timeout=5)

    assert ib.isConnected()
    assert (-1, 1100) in errors and (-1, 1102) in errors
    assert errors.index((-1, 1100)) < errors.index((-1, 1102))
    assert ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))


def test_it_refuses_a_second_connection_with_the_same_client_id_with_error_326(gateway, connect):
    connect(7)
    duplicate = IB()
    errors = record_errors(duplicate)

    with pytest.raises((TimeoutError, ConnectionError)):
        duplicate.connect("127.0.0.1", gateway.port, clientId=7, timeout=1)

    assert (-1, 326) in errors
    assert connect(8).isConnected()


def test_two_clients_trade_at_once_and_see_their_own_orders(connect):
    first, second = connect(1), connect(2)
    contract = Stock("SLOW", "SMART", "USD")
    first.qualifyContracts(contract)
    second.qualifyContracts(contract)

    mine = first.placeOrder(contract, LimitOrder("BUY", 5, 50.0))
    theirs = second.placeOrder(contract, LimitOrder("BUY", 7, 50.0))
    wait_until(first, lambda: mine.orderStatus.status == "Submitted")
    wait_until(second, lambda: theirs.orderStatus.status == "Submitted")

    assert [t.order.totalQuantity for t in first.reqOpenOrders()] == [5]
    assert [t.order.totalQuantity for t in second.reqOpenOrders()] == [7]
    assert sorted(t.order.totalQuantity for t in first.reqAllOpenOrders()) == [5, 7]
