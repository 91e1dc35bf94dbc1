"""Worker processes share one IB Gateway: each process's IBKR adapter connects with a client id of its own.

The workers are forked from the test process after it has connected, as Celery's prefork pool
forks its workers from a parent that has Django (and perhaps an adapter) loaded: a forked
worker must build its own connection under a new client id, never reuse the parent's
(the gateway would refuse the second connection with error 326).
"""

import multiprocessing
import traceback
import uuid
from decimal import Decimal

import pytest

from broker.adapters import OrderRequest, get_adapter
from broker.models import SimulatedOrder

from .conftest import on_own_connection

pytestmark = pytest.mark.processes

TIMEOUT = 60.0  # generous: a loaded 2-core CI machine is slow to connect


def trade_in_worker(order_ref: str, go, reports) -> None:
    """A worker process: connect, report the client id, wait for `go`, place an order, report it, close."""
    try:
        adapter = get_adapter()
        status = adapter.status()
        reports.send({"client_id": adapter.client_id, "connected": status.connected, "message": status.message})
        if not go.wait(TIMEOUT):
            raise TimeoutError("the test never said go")
        contract = adapter.qualify("SLOW")
        request = OrderRequest(
            conid=contract.conid,
            symbol=contract.symbol,
            side="BUY",
            quantity=Decimal("5"),
            order_type="LMT",
            limit_price=Decimal("50.00"),  # below the market: it rests
            tif="DAY",
            order_ref=order_ref,
        )
        state = adapter.place_order(request)
        reports.send({"status": state.status, "broker_order_id": state.broker_order_id, "message": state.message})
        adapter.close()
    except Exception:
        reports.send({"error": traceback.format_exc()})


def next_report(reports) -> dict:
    assert reports.poll(TIMEOUT), "the worker process sent no report in time"
    report = reports.recv()
    assert "error" not in report, report["error"]
    return report


def test_worker_processes_forked_from_one_parent_trade_through_one_gateway_at_once(ibkr_broker):
    gateway = ibkr_broker
    parent = get_adapter()
    assert parent.status().connected
    fork = multiprocessing.get_context("fork")
    go = fork.Event()
    refs = [f"worker-{n}-{uuid.uuid4().hex[:8]}" for n in (1, 2)]
    workers = []
    for ref in refs:
        receiving, sending = fork.Pipe(duplex=False)
        worker = fork.Process(target=trade_in_worker, args=(ref, go, sending), daemon=True)
        worker.start()
        workers.append((worker, receiving))
    try:
        hellos = [next_report(reports) for _, reports in workers]

        assert all(hello["connected"] for hello in hellos), hellos
        client_ids = [hello["client_id"] for hello in hellos]
        assert len({parent.client_id, *client_ids}) == 3
        assert {parent.client_id, *client_ids} <= set(gateway.sessions), "all three are connected at once"
        go.set()
        placed = [next_report(reports) for _, reports in workers]
        assert [order["status"] for order in placed] == ["submitted", "submitted"], placed
    finally:
        go.set()
        for worker, _ in workers:
            worker.join(TIMEOUT)
            if worker.is_alive():
                worker.kill()
                worker.join()
    assert [worker.exitcode for worker, _ in workers] == [0, 0]
    at_gateway = {(record.client_id, record.order_ref) for record in gateway.orders.values()}
    assert at_gateway == set(zip(client_ids, refs, strict=True))
    at_exchange = on_own_connection(
        lambda: sorted(
            SimulatedOrder.objects.filter(account__account_id=gateway.account_id).values_list("order_ref", flat=True)
        )
    )
    assert at_exchange == sorted(refs)
