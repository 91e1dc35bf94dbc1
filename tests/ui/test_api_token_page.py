from django.urls import reverse
from rest_framework.authtoken.models import Token


def test_it_offers_to_create_a_token_when_the_user_has_none(client, alice):
    client.force_login(alice)
    html = client.get(reverse("api-token-page")).content.decode()
    assert "No API token yet" in html
    assert "Create token" in html


def test_posting_creates_a_token_that_authenticates_the_api(client, alice):
    client.force_login(alice)
    response = client.post(reverse("api-token-page"), follow=True)
    token = Token.objects.get(user=alice)
    html = response.content.decode()
    assert token.key in html
    assert "API token created." in html  # shown as a toast
    client.logout()
    assert client.get("/api/auth/me/token/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


def test_rotating_replaces_the_old_key(client, alice):
    old = Token.objects.create(user=alice)
    client.force_login(alice)
    response = client.post(reverse("api-token-page"), follow=True)
    new = Token.objects.get(user=alice)
    assert new.key != old.key
    assert "Token rotated: the old key no longer works." in response.content.decode()


def test_it_shows_only_the_users_own_token(client, alice, bob):
    bobs = Token.objects.create(user=bob)
    client.force_login(alice)
    assert bobs.key not in client.get(reverse("api-token-page")).content.decode()
