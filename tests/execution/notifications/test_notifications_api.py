"""The notifications API: one's own notifications, marking them read, and one's preferences."""

import pytest

from execution.models import NotificationPreference
from execution.notifications import notify

pytestmark = pytest.mark.django_db


def test_traders_list_only_their_own_notifications_and_can_ask_for_unread_ones(alice, bob, alice_api):
    first = notify(alice, "order_filled", "BUY AAPL filled")
    second = notify(alice, "execution_failed", "Execution 2 failed")
    notify(bob, "order_filled", "Bob's fill")
    alice_api.post(f"/api/notifications/{first.pk}/read/")

    everything = alice_api.get("/api/notifications/").json()
    unread = alice_api.get("/api/notifications/?unread=true").json()

    assert [row["id"] for row in everything["results"]] == [second.pk, first.pk]
    assert [row["id"] for row in unread["results"]] == [second.pk]
    assert unread["results"][0]["read"] is False and unread["results"][0]["kind"] == "execution_failed"


def test_marking_read_works_on_ones_own_notification_only(alice, bob_api, alice_api, staff_api):
    notification = notify(alice, "order_filled", "BUY AAPL filled")

    assert bob_api.post(f"/api/notifications/{notification.pk}/read/").status_code == 404
    assert staff_api.post(f"/api/notifications/{notification.pk}/read/").status_code == 404
    response = alice_api.post(f"/api/notifications/{notification.pk}/read/")

    assert response.status_code == 200 and response.json()["read"] is True
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_the_api_requires_login(api_client):
    assert api_client.get("/api/notifications/").status_code in (401, 403)
    assert api_client.get("/api/notifications/preferences/").status_code in (401, 403)


def test_preferences_are_read_and_replaced(alice, alice_api, bob_api):
    assert alice_api.get("/api/notifications/preferences/").json()["email_enabled"] is False

    response = alice_api.put(
        "/api/notifications/preferences/",
        {"email_enabled": True, "webhook_url": "https://hooks.slack.example/T1/B2", "kinds": ["order_filled"]},
        format="json",
    )

    assert response.status_code == 200
    preference = NotificationPreference.objects.get(owner=alice)
    assert preference.email_enabled and preference.kinds == ["order_filled"]
    assert bob_api.get("/api/notifications/preferences/").json()["webhook_url"] == ""


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"webhook_url": "ftp://files.example/drop"}, "webhook_url"),
        ({"webhook_url": "javascript:alert(1)"}, "webhook_url"),
        ({"kinds": ["gossip"]}, "kinds"),
    ],
)
def test_bad_preferences_are_refused_and_change_nothing(alice, alice_api, payload, field):
    NotificationPreference.objects.create(owner=alice, webhook_url="https://example.com/hook")

    response = alice_api.put("/api/notifications/preferences/", payload, format="json")

    assert response.status_code == 400 and field in response.json()
    assert NotificationPreference.objects.get(owner=alice).webhook_url == "https://example.com/hook"
