"""CSRF on every form and on every session-authenticated API write (routes found in the resolver).

A browser signed in to tradingweb must not be made to post by another site: without the CSRF
token every page POST and every session API write is refused (403) and changes nothing. With
the token the same request gets past the check, so the refusal is the CSRF check's own.
"""

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from rest_framework.test import APIClient

from tests.tradingweb.security.clients import token_client
from tests.tradingweb.security.discovery import api_endpoints, page_endpoints
from tests.tradingweb.security.world import database_snapshot

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
PAGE_FAILURE = "CSRF verification failed"
API_FAILURE = "CSRF Failed"


def params(endpoints):
    return [pytest.param(endpoint, id=endpoint.route) for endpoint in endpoints]


def unsafe_methods(endpoint) -> list[str]:
    return [method for method in UNSAFE if method in endpoint.methods]


def with_csrf_token(client):
    """The cookie a page would have set and the header its script sends back."""
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    return {"HTTP_X_CSRFTOKEN": token}


@pytest.mark.parametrize("endpoint", params(e for e in page_endpoints() if "POST" in e.methods))
def test_every_page_refuses_a_post_without_the_csrf_token(alice, alice_world, endpoint):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    url = endpoint.url(alice_world)
    before = database_snapshot()

    refused = client.post(url, {"name": "forged"})
    assert refused.status_code == 403 and PAGE_FAILURE in refused.content.decode(), f"POST {url}"
    assert database_snapshot() == before

    passed = client.post(url, {"name": "forged"}, **with_csrf_token(client))
    assert PAGE_FAILURE not in passed.content.decode(), f"POST {url} refused even with the token"


@pytest.mark.parametrize("endpoint", params(e for e in api_endpoints() if unsafe_methods(e)))
def test_every_session_api_write_needs_the_csrf_token(alice, alice_world, endpoint):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    url = endpoint.url(alice_world)
    for method in unsafe_methods(endpoint):
        before = database_snapshot()
        refused = client.generic(method, url, data="{}", content_type="application/json")
        assert refused.status_code == 403 and API_FAILURE in refused.content.decode(), f"{method} {url}"
        assert database_snapshot() == before

        passed = client.generic(method, url, data="{}", content_type="application/json", **with_csrf_token(client))
        assert API_FAILURE not in passed.content.decode(), f"{method} {url} refused even with the token"


@pytest.mark.parametrize("endpoint", params(e for e in api_endpoints() if unsafe_methods(e)))
def test_a_token_client_needs_no_csrf_token(alice, alice_world, endpoint):
    client = token_client(alice)
    url = endpoint.url(alice_world)
    for method in unsafe_methods(endpoint):
        response = client.generic(method, url, data="{}", content_type="application/json")
        assert API_FAILURE not in response.content.decode(), f"{method} {url}"
