import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.mark.django_db
def test_a_program_gets_a_token_with_username_and_password_and_uses_it(api_client, alice):
    response = api_client.post("/api/auth/token/", {"username": "alice", "password": "alice-password"}, format="json")

    assert response.status_code == 200
    key = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/auth/me/token/").json()["token"] == key


@pytest.mark.django_db
def test_a_wrong_password_gets_a_field_error_and_no_token(api_client, alice):
    response = api_client.post("/api/auth/token/", {"username": "alice", "password": "wrong"}, format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert not Token.objects.filter(user=alice).exists()


@pytest.mark.django_db
def test_a_trader_without_a_token_sees_none_until_they_create_one(alice_api, alice):
    assert alice_api.get("/api/auth/me/token/").json() == {"token": None, "created": None}

    response = alice_api.post("/api/auth/me/token/")

    assert response.status_code == 201
    assert response.json()["token"] == Token.objects.get(user=alice).key


@pytest.mark.django_db
def test_rotating_the_token_makes_the_old_key_stop_working(api_client, alice):
    old_key = Token.objects.create(user=alice).key
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {old_key}")

    new_key = api_client.post("/api/auth/me/token/").json()["token"]

    assert new_key != old_key
    assert api_client.get("/api/auth/me/token/").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {new_key}")
    assert api_client.get("/api/auth/me/token/").json()["token"] == new_key


@pytest.mark.django_db
def test_each_trader_sees_only_their_own_token(alice_api, bob_api, alice, bob):
    alice_key = Token.objects.create(user=alice).key

    assert bob_api.get("/api/auth/me/token/").json()["token"] is None
    assert alice_api.get("/api/auth/me/token/").json()["token"] == alice_key


@pytest.mark.django_db
def test_an_anonymous_caller_cannot_see_or_rotate_a_token(api_client):
    assert api_client.get("/api/auth/me/token/").status_code == 401
    assert api_client.post("/api/auth/me/token/").status_code == 401
