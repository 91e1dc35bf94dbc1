"""The kinds of callers the access tests compare: signed-in session, token only, and how to send a request."""

from knox.models import AuthToken
from rest_framework.test import APIClient


def session_client(user) -> APIClient:
    """Signed in through the login session, as the browser is (CSRF not enforced by the test client)."""
    client = APIClient()
    client.force_login(user)
    return client


def token_header(user) -> str:
    """The Authorization header of a new API token of the user (as the token page issues one)."""
    return f"Token {AuthToken.objects.create(user=user)[1]}"


def token_client(user) -> APIClient:
    """Only an API token in the Authorization header: no session at all."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=token_header(user))
    return client


def send(client, method: str, url: str, query: dict | None = None):
    """GET with the query; any other method with an empty JSON object as its body."""
    if method == "GET":
        return client.get(url, query or {})
    return client.generic(method, url, data="{}", content_type="application/json")
