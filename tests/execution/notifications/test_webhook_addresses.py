"""A trader's webhook never reaches this machine or its network: refused where it is entered and when it is sent."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from execution.models import NotificationPreference
from execution.notifications import deliver_notification, notify
from tradingweb.outbound import UnsafeURL, checked_addresses, parse_allowed, validate_user_url

INSIDE_URLS = [
    ("http://127.0.0.1:8000/hook", "loopback"),
    ("http://169.254.169.254/latest/meta-data/iam/", "link-local"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.1.10/hook", "private"),
    ("http://[::1]:8000/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://0.0.0.0:6379/", "unspecified"),
    ("http://localhost:6379/", "loopback"),  # a name that resolves to loopback
]


@pytest.mark.parametrize(("url", "kind"), INSIDE_URLS)
def test_it_refuses_urls_that_are_or_resolve_to_inside_addresses(url, kind):
    with pytest.raises(UnsafeURL, match=f"a {kind} address"):
        checked_addresses(url)


def test_it_accepts_a_public_address_and_an_allowed_network_or_host(settings):
    assert checked_addresses("https://93.184.215.14/hook")[2][0].is_global
    settings.OUTBOUND_ALLOWED = ["10.0.5.0/24", "localhost"]
    assert checked_addresses("http://10.0.5.7/hook")[0] == "10.0.5.7"
    assert checked_addresses("http://localhost:9000/hook")[0] == "localhost"
    with pytest.raises(UnsafeURL):
        checked_addresses("http://10.0.6.7/hook")


def test_a_name_that_does_not_resolve_yet_is_accepted_where_it_is_entered_and_checked_when_sent():
    assert validate_user_url("https://hooks.slack.example/T1/B2") == "https://hooks.slack.example/T1/B2"
    with pytest.raises(OSError):
        checked_addresses("https://hooks.slack.example/T1/B2")


def test_a_bad_allowance_stops_start_up():
    with pytest.raises(ImproperlyConfigured, match="OUTBOUND_ALLOWED"):
        parse_allowed(["10.0.0.0/8", "not a host!"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data/", "http://localhost/"]
)
def test_the_api_refuses_an_inside_webhook_with_a_field_error_and_changes_nothing(alice, alice_api, url):
    NotificationPreference.objects.create(owner=alice, webhook_url="https://example.com/hook")

    response = alice_api.put("/api/notifications/preferences/", {"webhook_url": url}, format="json")

    assert response.status_code == 400
    assert "may not reach" in response.json()["webhook_url"][0]
    assert NotificationPreference.objects.get(owner=alice).webhook_url == "https://example.com/hook"


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["127.0.0.1", "169.254.169.254", "localhost"])
def test_a_stored_inside_webhook_is_refused_when_sent_and_nothing_is_posted(alice, webhook, settings, host):
    settings.OUTBOUND_ALLOWED = []  # the receiver runs on loopback; without the allowance nothing may reach it
    url = webhook.url.replace("127.0.0.1", host) if host != "169.254.169.254" else "http://169.254.169.254/latest/"
    NotificationPreference.objects.create(owner=alice, webhook_url=url)  # as if it resolved elsewhere when saved

    [delivery] = deliver_notification(notify(alice, "order_filled", "BUY AAPL filled"))

    assert delivery.status == "failed" and delivery.attempts == 1  # refused: not worth retrying
    assert "refused" in delivery.error and "may not reach" in delivery.error
    assert webhook.requests == []


@pytest.mark.django_db
def test_a_redirect_is_not_followed(alice, webhook):
    webhook.statuses = [302]
    NotificationPreference.objects.create(owner=alice, webhook_url=webhook.url)

    [delivery] = deliver_notification(notify(alice, "order_filled", "BUY AAPL filled"))

    assert (delivery.status, delivery.response_code) == ("failed", 302) and len(webhook.requests) == 1
