"""Staff filter alerts in the admin and mark them reviewed."""

import pytest

from broker.alerts import raise_alert
from broker.models import Alert

pytestmark = pytest.mark.django_db


def test_staff_mark_selected_alerts_reviewed(client, staff, alice):
    first = raise_alert(kind="exposure", key="exposure:1", owner=alice, message="Exposure is 80%")
    second = raise_alert(kind="stop_breach", key="stop:1", owner=alice, message="AAPL crossed its stop")
    client.force_login(staff)

    listing = client.get("/admin/broker/alert/?kind__exact=exposure")
    response = client.post(
        "/admin/broker/alert/", {"action": "mark_reviewed", "_selected_action": [first.pk]}, follow=True
    )

    assert listing.status_code == 200 and b"Exposure is 80%" in listing.content
    assert b"AAPL crossed its stop" not in listing.content
    assert b"1 alert(s) marked reviewed" in response.content
    first.refresh_from_db()
    assert first.reviewed and first.reviewed_by == staff and first.reviewed_at is not None
    assert not Alert.objects.get(pk=second.pk).reviewed
