"""Exactly once across OS processes: web and workers, each with its own IBKR client id, one gateway.

IBKR lets only the client id that placed an order cancel or modify it, and ib_insync keeps
only its own client's orders in sync. These tests run the roles as separate processes (workers
submitting through broker.orders, daphne as the web process, this test process as a third
client) against the gateway simulator: a worker killed after the gateway took its order, two
workers racing on one idempotency key, and the web process modifying and cancelling what a
worker placed.
"""

import json
import os
import select
import signal
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest

from broker.adapters import TransientBrokerError
from broker.instruments import qualify_symbol
from broker.models import Order
from broker.orders import order_cancel, order_submit
from broker.reconciliation import reconcile
from tests.workers import ROOT, wait_until

from .conftest import process_env

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]
REPORT_TIMEOUT = 90.0  # a loaded 2-core machine is slow to start Django and connect


class OrderWorker:
    """tests/integration/ibkr_gateway/order_worker.py in its own OS process and process group."""

    def __init__(self, gateway, *args: str):
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **process_env(gateway)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.ibkr_gateway.order_worker", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.client_id = self.report()["client_id"]

    def report(self) -> dict:
        ready, _, _ = select.select([self.process.stdout], [], [], REPORT_TIMEOUT)
        assert ready, "the worker process sent no report in time"
        line = self.process.stdout.readline()
        assert line, f"the worker process exited with {self.process.wait()}"
        return json.loads(line)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers():
    started: list[OrderWorker] = []
    yield started
    for worker in started:
        worker.stop()


def at_gateway(gateway, order_ref: str):
    return [record for record in gateway.orders.values() if record.order_ref == order_ref]


def resting_order(owner, key: str) -> Order:
    """A saved BUY 4 SLOW at 20.00 (far below the market: it rests), not yet at the broker."""
    return Order.objects.create(
        owner=owner, instrument=qualify_symbol("SLOW"), side="BUY", quantity=Decimal("4"), order_type="LMT",
        limit_price=Decimal("20.00"), tif="DAY", idempotency_key=key, paper=True,
    )  # fmt: skip


def test_a_worker_killed_after_the_gateway_took_its_order_is_replaced_by_one_that_adopts_it(
    ibkr_broker, alice, workers
):
    gateway = ibkr_broker
    order = resting_order(alice, f"killed-{uuid.uuid4().hex[:8]}")
    gateway.faults.silence_next_order()  # the gateway works the order; the worker never hears back

    first = OrderWorker(gateway, "submit", str(order.pk))
    workers.append(first)
    [record] = wait_until(lambda: at_gateway(gateway, order.idempotency_key), timeout=REPORT_TIMEOUT)
    first.kill()
    order.refresh_from_db()
    assert (order.status, order.broker_order_id) == (Order.Status.PENDING, "")

    second = OrderWorker(gateway, "submit", str(order.pk))
    workers.append(second)
    adopted = second.report()

    assert adopted == {"status": Order.Status.SUBMITTED, "broker_order_id": str(record.perm_id)}
    assert [r.client_id for r in at_gateway(gateway, order.idempotency_key)] == [first.client_id]

    # This process (a third client id) cancels it: no process holds the dead worker's client id any more.
    cancelled = order_cancel(Order.objects.get(pk=order.pk))
    assert cancelled.status == Order.Status.CANCELLED
    assert record.status == "Cancelled"


def test_two_workers_racing_on_one_key_place_one_order_which_the_web_process_refreshes_modifies_and_cancels(
    ibkr_broker, alice, workers, web, trader
):
    gateway = ibkr_broker
    instrument = qualify_symbol("SLOW")
    key = f"race-{uuid.uuid4().hex[:8]}"

    racing = [OrderWorker(gateway, "manual", str(alice.pk), str(instrument.conid), key, "--stay") for _ in (1, 2)]
    workers.extend(racing)
    results = [worker.report() for worker in racing]

    [record] = at_gateway(gateway, key)
    assert results == [{"status": Order.Status.SUBMITTED, "broker_order_id": str(record.perm_id)}] * 2
    assert record.client_id in {worker.client_id for worker in racing}
    order = Order.objects.get(idempotency_key=key)

    refreshed = trader.get(f"{web.url}/api/orders/{order.pk}/", timeout=60)
    assert refreshed.status_code == 200, (refreshed.text, web.log_tail())
    assert refreshed.json()["status"] == Order.Status.SUBMITTED
    modified = trader.patch(f"{web.url}/api/orders/{order.pk}/", json={"quantity": "6", "price": "21.50"}, timeout=60)
    assert modified.status_code == 200, (modified.text, web.log_tail())
    assert (Decimal(modified.json()["quantity"]), Decimal(modified.json()["price"])) == (6, Decimal("21.50"))
    assert (record.quantity, record.limit_price) == (6, Decimal("21.50"))
    assert record.status == "Submitted" and len(at_gateway(gateway, key)) == 1
    cancelled = trader.delete(f"{web.url}/api/orders/{order.pk}/", timeout=60)
    assert cancelled.status_code == 200, (cancelled.text, web.log_tail())
    assert cancelled.json()["status"] == Order.Status.CANCELLED
    assert record.status == "Cancelled"
    assert all(worker.process.poll() is None for worker in racing), "the owner cancelled it, alive"


def test_an_order_the_gateway_never_acknowledged_awaits_reconciliation_which_finds_it(ibkr_broker, alice):
    gateway = ibkr_broker
    order = resting_order(alice, f"unacknowledged-{uuid.uuid4().hex[:8]}")
    gateway.faults.silence_next_order()

    with pytest.raises(TransientBrokerError):
        order_submit(order)
    order.refresh_from_db()
    assert (order.status, order.broker_order_id) == (Order.Status.NEEDS_RECONCILIATION, "")

    report = reconcile()

    [record] = at_gateway(gateway, order.idempotency_key)
    order.refresh_from_db()
    assert report.settled_orders == [order.pk]
    assert (order.status, order.broker_order_id) == (Order.Status.SUBMITTED, str(record.perm_id))
    assert len(at_gateway(gateway, order.idempotency_key)) == 1
