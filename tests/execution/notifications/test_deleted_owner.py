"""A notification for an account deleted meanwhile is logged and dropped; the worker sending it carries on."""

import logging

import pytest
from django.contrib.auth.models import User

from execution.models import Notification
from execution.notifications import notify, publish_alerts


@pytest.mark.django_db(transaction=True)  # as in a worker: no surrounding transaction
def test_it_logs_and_drops_a_notification_for_a_deleted_owner(alice, monitor, caplog):
    gone = User.objects.get(pk=alice.pk)  # what a task still holds after the account was deleted
    User.objects.filter(pk=alice.pk).delete()

    with caplog.at_level(logging.WARNING, logger="execution.notifications"):
        result = notify(gone, "order_filled", "BUY AAPL filled", "10 at 180.5", {"order_id": 7, "symbol": "AAPL"})

    assert result is None
    assert not Notification.objects.exists()
    assert monitor.notifications(timeout=0.5) == []
    assert f"user {gone.pk}, who no longer exists" in caplog.text
    assert "order_filled" in caplog.text and "BUY AAPL filled" in caplog.text and '"order_id": 7' in caplog.text


@pytest.mark.django_db
def test_alerts_still_reach_the_recipients_who_exist(alice, bob):
    from broker.alerts import raise_alert

    mine = raise_alert(kind="stop_breach", key="k1", owner=alice, message="AAPL crossed its stop")
    bobs = raise_alert(kind="stop_breach", key="k2", owner=bob, message="MSFT crossed its stop")
    User.objects.filter(pk=alice.pk).delete()
    mine.owner = alice  # the alert row went with the account; its owner object is what a task may still hold

    notifications = publish_alerts([mine, bobs])

    assert [(n.owner, n.kind) for n in notifications] == [(bob, "stop_breach")]
