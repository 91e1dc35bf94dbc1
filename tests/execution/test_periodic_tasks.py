"""The app's periodic jobs: registered in ONE place (setup_periodic_tasks), and each one does its job on a worker."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from agents.models import ApprovalRequest
from broker.adapters.simulated import SimulatedAdapter
from broker.models import Fill, Instrument, Order, Position
from broker.orders import new_idempotency_key, order_submit
from execution import tasks
from execution.maintenance import setup_periodic_tasks
from execution.models import Decision, Notification, NotificationDelivery, WorkflowExecution, WorkflowMetrics
from tradingweb.celery import app
from workflows.models import Workflow, WorkflowVersion

EXPECTED = {
    "execution: prune old executions": ("execution.prune_old_executions", "low", "30 3 * * *"),
    "execution: recover stranded executions": ("execution.recover_stranded_executions", "high", 60),
    "broker: poll orders and notify": ("execution.poll_orders_and_notify", "high", 60),
    "execution: expire overdue approvals": ("execution.expire_overdue_approvals", "high", 45),
    "broker: check risk and notify": ("execution.check_risk_and_notify", "high", 300),
    "broker: reconcile and notify": ("execution.reconcile_and_notify", "normal", 900),
    "execution: deliver pending notifications": ("execution.deliver_pending_notifications", "normal", 300),
    "execution: aggregate workflow metrics": ("execution.aggregate_recent_workflow_metrics", "low", "15 0 * * *"),
}


def beat_entries() -> dict[str, tuple]:
    def when(task: PeriodicTask):
        if task.interval is not None:
            assert task.interval.period == IntervalSchedule.SECONDS
            return task.interval.every
        c = task.crontab
        assert str(c.timezone) == "UTC"
        return f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"

    return {task.name: (task.task, task.queue, when(task)) for task in PeriodicTask.objects.all()}


def run_on_worker(task, timeout: float = 60):
    return task.delay().get(timeout=timeout)


@pytest.mark.django_db
def test_setup_registers_exactly_the_periodic_jobs_however_often_it_runs(settings):
    settings.APPROVAL_SWEEP_SECONDS = 45
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    # What earlier versions registered: the bare order poll, and the sweep from CELERY_BEAT_SCHEDULE.
    for name, task in [
        ("broker: poll open orders", "execution.poll_open_orders"),
        ("expire-overdue-approvals", "execution.expire_overdue_approvals"),
    ]:
        PeriodicTask.objects.create(name=name, task=task, interval=every_minute)

    names = setup_periodic_tasks()
    setup_periodic_tasks()

    assert sorted(names) == sorted(EXPECTED)
    assert beat_entries() == EXPECTED
    assert all(task in app.tasks for task, _, _ in EXPECTED.values())
    assert not app.conf.beat_schedule, "no periodic job is declared beside setup_periodic_tasks"

    settings.APPROVAL_SWEEP_SECONDS = 30
    setup_periodic_tasks()
    assert beat_entries()["execution: expire overdue approvals"][2] == 30
    assert PeriodicTask.objects.count() == len(EXPECTED)


@pytest.mark.django_db(transaction=True)
def test_the_order_poll_records_a_fill_at_the_exchange_and_tells_the_owner(alice, settings, celery_worker):
    settings.BROKER_ADAPTER = "simulated"
    adapter = SimulatedAdapter()
    contract = adapter.qualify("MSFT")
    instrument = Instrument.objects.create(symbol=contract.symbol, conid=contract.conid)
    order = Order(
        owner=alice,
        instrument=instrument,
        side="BUY",
        quantity=Decimal("2"),
        order_type="MKT",
        tif="GTC",
        idempotency_key=new_idempotency_key("test"),
    )
    order = order_submit(order, adapter=adapter)
    adapter.exchange.process_market(timezone.now() + datetime.timedelta(days=3))

    summary = run_on_worker(tasks.poll_orders_and_notify)

    order.refresh_from_db()
    assert order.status == Order.Status.FILLED and summary["refreshed"] == 1
    assert Fill.objects.filter(order=order).count() >= 1
    notification = Notification.objects.get(owner=alice, kind=Notification.Kind.ORDER_FILLED)
    assert notification.data["order_id"] == order.pk


@pytest.mark.django_db(transaction=True)
def test_the_reconciliation_tells_the_owner_of_a_position_the_broker_does_not_hold(alice, settings, celery_worker):
    settings.BROKER_ADAPTER = "simulated"
    contract = SimulatedAdapter().qualify("AAPL")
    instrument = Instrument.objects.create(symbol=contract.symbol, conid=contract.conid)
    Position.objects.create(
        owner=alice, instrument=instrument, quantity=Decimal("10"), average_cost=Decimal("100"), cost_basis=1000
    )

    report = run_on_worker(tasks.reconcile_and_notify)

    assert [discrepancy["kind"] for discrepancy in report["discrepancies"]] == ["position"]
    notification = Notification.objects.get(kind=Notification.Kind.DISCREPANCY)
    assert notification.owner == alice and notification.data["symbol"] == "AAPL"


@pytest.mark.django_db(transaction=True)
def test_the_risk_check_tells_the_owner_of_a_crossed_stop(alice, settings, celery_worker):
    settings.BROKER_ADAPTER = "simulated"
    adapter = SimulatedAdapter()
    contract = adapter.qualify("AAPL")
    instrument = Instrument.objects.create(symbol=contract.symbol, conid=contract.conid)
    price = adapter.quote(contract.conid, contract.symbol).last
    Position.objects.create(
        owner=alice,
        instrument=instrument,
        quantity=Decimal("1"),
        average_cost=price,
        cost_basis=price,
        stop_price=price * 2,  # a long position far below its stop
    )

    assert run_on_worker(tasks.check_risk_and_notify) == 1

    notification = Notification.objects.get(kind=Notification.Kind.STOP_BREACH)
    assert notification.owner == alice and notification.data["symbol"] == "AAPL"


@pytest.mark.django_db(transaction=True)
def test_pending_deliveries_are_sent(alice, mailoutbox, celery_worker):
    notification = Notification.objects.create(owner=alice, kind="order_filled", title="BUY AAPL filled")
    delivery = NotificationDelivery.objects.create(notification=notification, channel="email")

    assert run_on_worker(tasks.deliver_pending_notifications) == 1

    delivery.refresh_from_db()
    assert delivery.status == NotificationDelivery.Status.DELIVERED
    assert [message.to for message in mailoutbox] == [["alice@example.com"]]


@pytest.mark.django_db(transaction=True)
def test_metrics_are_aggregated_for_each_of_the_last_seven_days(alice, celery_worker):
    workflow = Workflow.objects.create(owner=alice, name="Daily")
    version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=[])
    today = timezone.now()
    for days_ago in (1, 3, 8):
        execution = WorkflowExecution.objects.create(
            owner=alice, workflow=workflow, version=version, symbols=["AAPL"], status="completed"
        )
        WorkflowExecution.objects.filter(pk=execution.pk).update(created_at=today - datetime.timedelta(days=days_ago))

    days = run_on_worker(tasks.aggregate_recent_workflow_metrics)

    assert len(days) == 7
    expected = {(today - datetime.timedelta(days=days_ago)).date() for days_ago in (1, 3)}
    assert set(WorkflowMetrics.objects.values_list("date", flat=True)) == expected


@pytest.mark.django_db(transaction=True)
def test_the_sweep_expires_an_overdue_approval(alice, celery_worker):
    instrument = Instrument.objects.create(symbol="AAPL", conid=265598)
    execution = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"], status="running")
    decision = Decision.objects.create(execution=execution, instrument=instrument, type="buy", status="approved")
    overdue = ApprovalRequest.objects.create(
        execution=execution, decision=decision, deadline=timezone.now() - datetime.timedelta(seconds=1)
    )

    assert run_on_worker(tasks.expire_overdue_approvals) == 1

    overdue.refresh_from_db()
    decision.refresh_from_db()
    assert overdue.status == ApprovalRequest.Status.EXPIRED
    assert (decision.status, decision.rejection_reasons) == ("rejected", ["Approval expired"])


@pytest.mark.django_db(transaction=True)
def test_the_cleanup_prunes_finished_executions_past_the_retention(alice, settings, celery_worker):
    settings.EXECUTION_RETENTION_DAYS = 30
    old, recent = (WorkflowExecution.objects.create(owner=alice, status="completed") for _ in range(2))
    WorkflowExecution.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=31))

    summary = run_on_worker(tasks.prune_old_executions)

    assert summary["deleted"]["workflowexecution"] == 1
    assert list(WorkflowExecution.objects.values_list("pk", flat=True)) == [recent.pk]
