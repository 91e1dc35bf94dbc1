"""API tokens (django-rest-knox): stored only as hashes, shown once, expiring, revocable; old keys keep working."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.django_db
def test_a_program_gets_a_token_with_username_and_password_and_uses_it(api_client, alice):
    response = api_client.post("/api/auth/token/", {"username": "alice", "password": "alice-password"}, format="json")

    assert response.status_code == 200
    key = response.json()["token"]
    answer = client_with(key).get("/api/auth/me/token/")
    assert answer.status_code == 200
    assert answer.json()["token"] is None, "a key is shown once, when it is issued"
    assert key.startswith(answer.json()["prefix"])


@pytest.mark.django_db
def test_only_a_hash_of_the_key_is_stored(api_client, alice):
    key = api_client.post("/api/auth/token/", {"username": "alice", "password": "alice-password"}).json()["token"]

    stored = AuthToken.objects.get(user=alice)
    assert key not in stored.digest and len(stored.digest) == 128  # SHA-512, hex
    assert key not in str(list(AuthToken.objects.values()))


@pytest.mark.django_db
def test_a_wrong_password_gets_a_field_error_and_no_token(api_client, alice):
    response = api_client.post("/api/auth/token/", {"username": "alice", "password": "wrong"}, format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert not AuthToken.objects.filter(user=alice).exists()


@pytest.mark.django_db
def test_a_trader_without_a_token_sees_none_until_they_create_one(alice_api, alice):
    assert alice_api.get("/api/auth/me/token/").json()["created"] is None

    response = alice_api.post("/api/auth/me/token/")

    assert response.status_code == 201
    assert client_with(response.json()["token"]).get("/api/auth/me/token/").status_code == 200
    assert response.json()["expiry"] is not None


@pytest.mark.django_db
def test_rotating_the_token_makes_the_old_key_stop_working(api_client, alice):
    _, old_key = AuthToken.objects.create(user=alice)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {old_key}")

    new_key = api_client.post("/api/auth/me/token/").json()["token"]

    assert new_key != old_key
    assert api_client.get("/api/auth/me/token/").status_code == 401
    assert client_with(new_key).get("/api/auth/me/token/").status_code == 200


@pytest.mark.django_db
def test_a_revoked_token_stops_working(alice):
    _, key = AuthToken.objects.create(user=alice)
    client = client_with(key)

    assert client.delete("/api/auth/me/token/").status_code == 204

    assert client.get("/api/auth/me/token/").status_code == 401
    assert not AuthToken.objects.filter(user=alice).exists()


@pytest.mark.django_db
def test_a_token_stops_working_when_it_expires(alice, settings):
    assert settings.REST_KNOX["TOKEN_TTL"] == timedelta(days=settings.API_TOKEN_TTL_DAYS)
    token, key = AuthToken.objects.create(user=alice)
    assert client_with(key).get("/api/auth/me/token/").status_code == 200

    AuthToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(seconds=1))

    assert client_with(key).get("/api/auth/me/token/").status_code == 401


@pytest.mark.django_db
def test_each_trader_sees_only_their_own_token(alice_api, bob_api, alice, bob):
    token, _ = AuthToken.objects.create(user=alice)

    assert bob_api.get("/api/auth/me/token/").json()["created"] is None
    assert alice_api.get("/api/auth/me/token/").json()["prefix"] == token.token_key[:8]


@pytest.mark.django_db
def test_an_anonymous_caller_cannot_see_rotate_or_revoke_a_token(api_client):
    assert api_client.get("/api/auth/me/token/").status_code == 401
    assert api_client.post("/api/auth/me/token/").status_code == 401
    assert api_client.delete("/api/auth/me/token/").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_plain_key_from_before_hashing_keeps_working_after_the_migration(alice):
    legacy_key = "0123456789abcdef0123456789abcdef01234567"  # DRF authtoken's 40 hex characters
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time zone, user_id int)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)", [legacy_key, timezone.now(), alice.pk])
    migration = importlib.import_module("tradingweb.migrations.0001_hash_legacy_api_tokens")
    try:
        with connection.schema_editor() as schema_editor:
            migration.hash_legacy_tokens(apps, schema_editor)

        assert client_with(legacy_key).get("/api/auth/me/token/").status_code == 200
        stored = AuthToken.objects.get(user=alice)
        assert legacy_key not in stored.digest and stored.expiry is not None
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM authtoken_token")
            assert cursor.fetchone()[0] == 0, "no plain key is left behind"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE authtoken_token")
