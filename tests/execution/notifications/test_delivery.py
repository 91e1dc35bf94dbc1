"""Email and webhook deliveries: sent per preferences, retried with backoff, every attempt logged."""

import pytest
from django.core import mail

from execution.models import NotificationDelivery, NotificationPreference
from execution.notifications import deliver_notification, deliver_pending_notifications, notify

pytestmark = pytest.mark.django_db

SECRET_DATA = {"symbol": "AAPL", "password": "hunter2", "broker_api_key": "sk-abc"}


def test_it_emails_the_owner_through_djangos_mail_backend(alice):
    NotificationPreference.objects.create(owner=alice, email_enabled=True)
    notification = notify(alice, "execution_failed", "Execution 4 of Daily failed", "Broker session lost", SECRET_DATA)

    [delivery] = deliver_notification(notification)

    assert (delivery.channel, delivery.status, delivery.attempts) == ("email", "delivered", 1)
    [message] = mail.outbox
    assert message.to == ["alice@example.com"] and message.subject == "[tradingweb] Execution 4 of Daily failed"
    assert "Broker session lost" in message.body and "AAPL" in message.body
    assert "hunter2" not in message.body and "sk-abc" not in message.body


def test_it_posts_slack_style_json_to_the_webhook(alice, webhook):
    NotificationPreference.objects.create(owner=alice, webhook_url=webhook.url)
    notification = notify(alice, "stop_breach", "Stop breach alert", "AAPL at 94 crossed its stop 95", SECRET_DATA)

    [delivery] = deliver_notification(notification)

    assert (delivery.status, delivery.response_code, delivery.attempts) == ("delivered", 200, 1)
    [request] = webhook.requests
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["body"] == {
        "text": "Stop breach alert\nAAPL at 94 crossed its stop 95",
        "title": "Stop breach alert",
        "kind": "stop_breach",
        "data": {"symbol": "AAPL"},
    }


def test_a_webhook_answering_500_is_retried_until_it_accepts(alice, webhook):
    webhook.statuses = [500, 502]
    NotificationPreference.objects.create(owner=alice, webhook_url=webhook.url)

    [delivery] = deliver_notification(notify(alice, "order_filled", "BUY AAPL filled"))

    assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 3, 200)
    assert len(webhook.requests) == 3 and delivery.delivered_at is not None


def test_a_webhook_failing_every_attempt_is_logged_as_failed_after_three(alice, webhook):
    webhook.statuses = [500, 500, 500, 500]
    NotificationPreference.objects.create(owner=alice, webhook_url=webhook.url)

    [delivery] = deliver_notification(notify(alice, "order_filled", "BUY AAPL filled"))

    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 3, 500)
    assert "HTTP 500" in delivery.error and len(webhook.requests) == 3


def test_a_webhook_refusing_the_request_is_not_retried(alice, webhook):
    webhook.statuses = [404]
    NotificationPreference.objects.create(owner=alice, webhook_url=webhook.url)

    [delivery] = deliver_notification(notify(alice, "order_filled", "BUY AAPL filled"))

    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 1, 404)


def test_an_unreachable_webhook_fails_with_the_reason(alice, webhook):
    url = webhook.url
    webhook.close()
    NotificationPreference.objects.create(owner=alice, webhook_url=url)

    [delivery] = deliver_notification(notify(alice, "order_filled", "BUY AAPL filled"))

    assert delivery.status == "failed" and delivery.attempts == 3 and "could not be reached" in delivery.error


def test_pending_deliveries_are_sent_by_the_periodic_sweep(alice, bob):
    NotificationPreference.objects.create(owner=alice, email_enabled=True)
    NotificationPreference.objects.create(owner=bob, email_enabled=True)
    notify(alice, "order_filled", "BUY AAPL filled")
    notify(bob, "order_filled", "SELL MSFT filled")

    assert deliver_pending_notifications() == 2
    assert sorted(message.to[0] for message in mail.outbox) == ["alice@example.com", "bob@example.com"]
    assert not NotificationDelivery.objects.filter(status="pending").exists()
