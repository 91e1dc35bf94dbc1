"""The events a trader is told of reach them: failed execution, rejected order, fill, approval, risk alerts."""

from decimal import Decimal

import pytest

from broker.models import Alert, Instrument, Order, Position
from execution.models import Decision, Notification, WorkflowExecution
from execution.notifications import approval_requested, order_update, poll_orders_and_notify, publish_alerts
from execution.runner import run_execution
from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db


def test_a_failed_execution_notifies_its_owner(alice):
    workflow = Workflow.objects.create(owner=alice, name="Empty")
    version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=[])
    execution = WorkflowExecution.objects.create(
        owner=alice, workflow=workflow, version=version, symbols=["AAPL"], params={"symbol_delay": 0}
    )

    run_execution(execution.pk)

    notification = Notification.objects.get(owner=alice)
    assert notification.kind == "execution_failed" and notification.title == f"Execution {execution.pk} of Empty failed"
    assert "no steps" in notification.body and notification.data["execution_id"] == execution.pk


def test_a_rejected_order_notifies_its_owner_and_raises_an_alert(alice):
    instrument = Instrument.objects.create(symbol="AAPL", conid=265598)
    order = Order.objects.create(
        owner=alice,
        instrument=instrument,
        side="BUY",
        quantity=Decimal("5"),
        idempotency_key="rejected-1",
        status=Order.Status.REJECTED,
        status_message="[201] Margin check failed",
    )

    notification = order_update(order, previous_status=Order.Status.PENDING)

    assert notification.kind == "order_rejected" and "[201] Margin check failed" in notification.body
    alert = Alert.objects.get(kind=Alert.Kind.ORDER_REJECTED)
    assert alert.owner == alice and notification.data["alert_id"] == alert.pk


def test_a_fill_found_by_the_order_poll_notifies_the_owner(alice, settings):
    from datetime import timedelta

    from django.utils import timezone

    from broker.adapters.simulated import SimulatedAdapter
    from broker.orders import new_idempotency_key, order_submit

    settings.BROKER_ADAPTER = "simulated"
    adapter = SimulatedAdapter()
    contract = adapter.qualify("MSFT")
    instrument = Instrument.objects.create(symbol=contract.symbol, conid=contract.conid)
    order = order_submit(
        Order(
            owner=alice,
            instrument=instrument,
            side="BUY",
            quantity=Decimal("2"),
            order_type="MKT",
            tif="GTC",
            idempotency_key=new_idempotency_key("test"),
        ),
        adapter=adapter,
    )
    adapter.exchange.process_market(timezone.now() + timedelta(days=3))

    poll_orders_and_notify()

    notification = Notification.objects.get(owner=alice, kind="order_filled")
    assert notification.data["order_id"] == order.pk and notification.data["filled_quantity"] == "2.0000"
    assert notification.title.startswith("BUY MSFT filled: 2.0000 of 2.0000")


def test_an_approval_waiting_notifies_the_owner(alice):
    from datetime import UTC, datetime

    instrument = Instrument.objects.create(symbol="AAPL", conid=265598)
    execution = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"])
    decision = Decision.objects.create(execution=execution, instrument=instrument, type="buy")

    notification = approval_requested(execution, decision, datetime(2026, 3, 2, 15, 5, tzinfo=UTC))

    assert notification.kind == "approval_requested" and notification.title == "BUY AAPL waits for your approval"
    assert "2026-03-02 15:05 UTC" in notification.body and notification.data["decision_id"] == decision.pk


def test_risk_alerts_reach_their_owner_and_account_alerts_reach_staff(alice, staff, monitor):
    from broker.alerts import raise_alert

    instrument = Instrument.objects.create(symbol="AAPL", conid=265598)
    Position.objects.create(owner=alice, instrument=instrument, quantity=Decimal("1"))
    mine = raise_alert(kind="stop_breach", key="k1", owner=alice, message="AAPL crossed its stop", severity="critical")
    shared = raise_alert(kind="discrepancy", key="k2", message="Unknown broker order 77")

    notifications = publish_alerts([mine, shared, None])

    assert [(n.owner, n.kind) for n in notifications] == [(alice, "stop_breach"), (staff, "discrepancy")]
    assert notifications[0].data["alert_id"] == mine.pk and notifications[0].data["severity"] == "critical"
    events = monitor.notifications(expected=2)
    assert [(event["owner_id"], event["kind"]) for event in events] == [
        (alice.pk, "stop_breach"),
        (staff.pk, "discrepancy"),
    ]
