"""The admin is for staff: anonymous visitors and traders are sent to the admin login, on every admin page."""

from django.test import Client

from tests.tradingweb.security.discovery import admin_urls


def test_anonymous_visitors_and_traders_are_sent_to_the_admin_login(alice, alice_world):
    trader = Client()
    trader.force_login(alice)
    for client in (Client(), trader):
        for url in admin_urls():
            response = client.get(url)
            assert response.status_code == 302, f"GET {url}: {response.status_code}"
            assert response["Location"].startswith("/admin/login/"), f"GET {url} went to {response['Location']}"


def test_a_trader_cannot_post_to_the_admin(alice, alice_world):
    client = Client()
    client.force_login(alice)
    response = client.post(f"/admin/auth/user/{alice.pk}/change/", {"username": "alice", "is_staff": "on"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    alice.refresh_from_db()
    assert not alice.is_staff


def test_staff_open_every_admin_page(staff, alice_world):
    client = Client()
    client.force_login(staff)
    for url in admin_urls(staff):
        response = client.get(url, follow=True)
        assert response.status_code == 200, f"GET {url}: {response.status_code}"
        assert response.redirect_chain == [] or "/admin/login/" not in response.redirect_chain[-1][0]
