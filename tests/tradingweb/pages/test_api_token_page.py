from django.urls import reverse
from knox.models import AuthToken


def test_it_offers_to_create_a_token_when_the_user_has_none(client, alice):
    client.force_login(alice)
    html = client.get(reverse("api-token-page")).content.decode()
    assert "No API token yet" in html
    assert "Create token" in html


def test_posting_shows_the_new_key_once_and_it_authenticates_the_api(client, alice):
    client.force_login(alice)
    response = client.post(reverse("api-token-page"))
    html = response.content.decode()
    assert "API token created." in html  # shown as a toast
    assert "will not be shown again" in html
    key = response.context["new_key"]
    assert key in html
    assert key not in client.get(reverse("api-token-page")).content.decode()
    client.logout()
    assert client.get("/api/auth/me/token/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_rotating_replaces_the_old_key(client, alice):
    _, old_key = AuthToken.objects.create(user=alice)
    client.force_login(alice)
    response = client.post(reverse("api-token-page"))
    assert response.context["new_key"] != old_key
    assert "Token rotated: the old key no longer works." in response.content.decode()
    client.logout()
    assert client.get("/api/auth/me/token/", HTTP_AUTHORIZATION=f"Token {old_key}").status_code == 401


def test_revoking_ends_the_token(client, alice):
    _, key = AuthToken.objects.create(user=alice)
    client.force_login(alice)
    response = client.post(reverse("api-token-page"), {"action": "revoke"}, follow=True)
    assert "Token revoked" in response.content.decode()
    assert not AuthToken.objects.filter(user=alice).exists()


def test_it_shows_only_the_users_own_token(client, alice, bob):
    bobs, _ = AuthToken.objects.create(user=bob)
    client.force_login(alice)
    assert bobs.token_key[:8] not in client.get(reverse("api-token-page")).content.decode()
