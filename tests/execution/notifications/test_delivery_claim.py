"""A delivery is sent once, even when the delivery task and the periodic sweep reach it together."""

from datetime import timedelta

import pytest
from django.utils import timezone

from execution.models import NotificationDelivery, NotificationPreference
from execution.notifications import deliver, deliver_pending_notifications, notify

pytestmark = pytest.mark.django_db


def test_a_delivery_claimed_by_one_sender_is_not_sent_by_another(alice, webhook):
    NotificationPreference.objects.create(owner=alice, webhook_url=webhook.url)
    notification = notify(alice, "order_filled", "BUY AAPL filled")
    [as_seen_by_task] = notification.deliveries.all()
    [as_seen_by_sweep] = notification.deliveries.all()

    assert deliver(as_seen_by_task).status == NotificationDelivery.Status.DELIVERED
    assert deliver(as_seen_by_sweep) is None
    assert deliver_pending_notifications() == 0
    assert len(webhook.requests) == 1


def test_the_sweep_takes_over_a_delivery_whose_sender_died(alice, webhook):
    NotificationPreference.objects.create(owner=alice, webhook_url=webhook.url)
    notification = notify(alice, "order_filled", "BUY AAPL filled")
    notification.deliveries.update(
        status=NotificationDelivery.Status.SENDING, claimed_at=timezone.now() - timedelta(minutes=11)
    )

    assert deliver_pending_notifications() == 1
    assert notification.deliveries.get().status == NotificationDelivery.Status.DELIVERED
    assert len(webhook.requests) == 1


def test_the_sweep_leaves_a_fresh_claim_to_its_sender(alice, webhook):
    NotificationPreference.objects.create(owner=alice, webhook_url=webhook.url)
    notification = notify(alice, "order_filled", "BUY AAPL filled")
    notification.deliveries.update(status=NotificationDelivery.Status.SENDING, claimed_at=timezone.now())

    assert deliver_pending_notifications() == 0
    assert webhook.requests == []
