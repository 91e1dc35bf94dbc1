"""notify() tells the owner in the app: a Notification row and a websocket event on the monitor group."""

import pytest

from execution.models import Notification, NotificationDelivery, NotificationPreference
from execution.notifications import notify

pytestmark = pytest.mark.django_db


def test_it_stores_the_notification_and_publishes_it_to_the_owner_on_the_monitor_group(alice, monitor):
    notification = notify(alice, "order_filled", "BUY AAPL filled", "10 at 180.5", {"order_id": 7, "symbol": "AAPL"})

    assert Notification.objects.get(owner=alice).pk == notification.pk and not notification.is_read()
    [event] = monitor.notifications()
    assert event["owner_id"] == alice.pk and event["notification_id"] == notification.pk
    assert (event["kind"], event["title"], event["status"]) == ("order_filled", "BUY AAPL filled", "unread")
    assert event["data"] == {"order_id": 7, "symbol": "AAPL"}


def test_without_preferences_it_sends_nothing_beyond_the_app(alice):
    notification = notify(alice, "execution_failed", "Execution 3 failed")

    assert not notification.deliveries.exists()


def test_preferences_choose_the_channels_and_the_kinds(alice, bob):
    NotificationPreference.objects.create(owner=alice, email_enabled=True, webhook_url="https://example.com/hook")
    NotificationPreference.objects.create(owner=bob, email_enabled=True, kinds=["execution_failed"])

    alices = notify(alice, "stop_breach", "AAPL crossed its stop")
    bobs = notify(bob, "order_filled", "BUY MSFT filled")

    assert sorted(alices.deliveries.values_list("channel", flat=True)) == ["email", "webhook"]
    assert set(alices.deliveries.values_list("status", flat=True)) == {NotificationDelivery.Status.PENDING}
    assert not bobs.deliveries.exists()


def test_secrets_never_reach_the_stored_or_published_notification(alice, monitor):
    data = {"symbol": "AAPL", "api_key": "sk-live-123", "nested": {"auth_token": "t0k3n", "price": 10}}

    notification = notify(alice, "order_rejected", "Rejected", "", data)

    assert notification.data == {"symbol": "AAPL", "nested": {"price": 10}}
    [event] = monitor.notifications()
    assert "sk-live-123" not in str(event) and "t0k3n" not in str(event)


def test_an_unknown_kind_is_refused(alice):
    with pytest.raises(ValueError, match="Unknown notification kind"):
        notify(alice, "gossip", "Hello")
    assert not Notification.objects.exists()
