"""Every page's header carries a notification bell: it counts the viewer's unread notifications and marks them read."""

import json
import re

from django.urls import reverse
from django.utils import timezone

from execution.models import Notification


def note(owner, title: str, *, read: bool = False, kind=Notification.Kind.EXECUTION_FAILED) -> Notification:
    return Notification.objects.create(
        owner=owner, kind=kind, title=title, data={"execution_id": 7}, read_at=timezone.now() if read else None
    )


def bell_config(html: str) -> dict:
    found = re.search(r'<script id="notification-bell-config" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the bell's configuration is missing"
    return json.loads(found.group(1))


def test_every_signed_in_page_has_the_bell_and_where_it_reads_from(client, alice):
    client.force_login(alice)
    for page in ("dashboard", "strategies", "workflows", "executions", "orders"):
        html = client.get(reverse(page)).content.decode()
        assert "data-notification-bell" in html, page
        assert "build/pages/notifications.js" in html, page
    config = bell_config(html)
    assert config["list_url"] == reverse("notification-list")
    assert config["read_all_url"] == reverse("notification-read-all")
    assert config["socket_path"] == "/ws/monitor/"


def test_the_bell_tells_failures_from_fills_in_its_toasts(client, alice):
    client.force_login(alice)
    kinds = bell_config(client.get(reverse("dashboard")).content.decode())["kinds"]
    assert kinds["execution_failed"] == {"label": "Execution failed", "toast": "error"}
    assert kinds["order_filled"]["toast"] == "success"
    assert kinds["approval_requested"]["toast"] == "warning"
    assert set(kinds) == set(Notification.Kind.values)


def test_the_sign_in_page_has_no_bell(client):
    assert "data-notification-bell" not in client.get(reverse("login")).content.decode()


def test_the_count_the_bell_reads_is_the_viewers_unread_notifications(alice_api, alice, bob):
    note(alice, "Run 1 failed")
    note(alice, "Run 2 failed")
    note(alice, "Run 0 failed", read=True)
    note(bob, "Bob's run failed")
    answer = alice_api.get(reverse("notification-list"), {"unread": "true", "limit": 1})
    assert answer.status_code == 200
    assert answer.json()["count"] == 2


def test_mark_all_read_marks_only_the_callers_own(alice_api, alice, bob):
    note(alice, "Run 1 failed")
    note(alice, "Run 2 failed")
    bobs = note(bob, "Bob's run failed")
    answer = alice_api.post(reverse("notification-read-all"))
    assert answer.status_code == 200
    assert answer.json() == {"marked_read": 2}
    assert not Notification.objects.filter(owner=alice, read_at__isnull=True).exists()
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_mark_all_read_leaves_earlier_read_times_alone(alice_api, alice):
    earlier = note(alice, "Old news", read=True)
    read_at = earlier.read_at
    assert alice_api.post(reverse("notification-read-all")).json() == {"marked_read": 0}
    earlier.refresh_from_db()
    assert earlier.read_at == read_at


def test_a_trader_cannot_mark_another_traders_notification_read(bob_api, alice):
    alices = note(alice, "Run 1 failed")
    assert bob_api.post(reverse("notification-read", args=[alices.pk])).status_code == 404
    alices.refresh_from_db()
    assert alices.read_at is None


def test_staff_mark_all_read_does_not_touch_traders_inboxes(staff_api, alice):
    alices = note(alice, "Run 1 failed")
    assert staff_api.post(reverse("notification-read-all")).json() == {"marked_read": 0}
    alices.refresh_from_db()
    assert alices.read_at is None


def test_mark_all_read_needs_a_signed_in_caller(api_client, alice):
    note(alice, "Run 1 failed")
    assert api_client.post(reverse("notification-read-all")).status_code in (401, 403)
    assert Notification.objects.filter(read_at__isnull=True).count() == 1
