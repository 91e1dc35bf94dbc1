"""Execute and order endpoints are rate limited per trader (DRF scoped throttles "execute" and "orders").

The endpoints are those whose view declares one of these scopes; with a rate of 2 a minute the
third write gets 429 with Retry-After, whatever the body, and another trader is not held back.
"""

import pytest
from rest_framework.throttling import ScopedRateThrottle

from tests.tradingweb.security.clients import token_client
from tests.tradingweb.security.discovery import api_endpoints

SCOPES = ("execute", "orders")
RATE = 2
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def view_class(endpoint):
    return getattr(endpoint.callback, "cls", None)


def throttled_writes():
    for endpoint in api_endpoints():
        if getattr(view_class(endpoint), "throttle_scope", None) in SCOPES:
            for method in endpoint.methods:
                if method in WRITES:
                    yield pytest.param(endpoint, method, id=f"{method} {endpoint.route}")


@pytest.fixture
def tiny_rates(monkeypatch):
    # DRF reads DEFAULT_THROTTLE_RATES once, into the class, when it is imported.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {scope: f"{RATE}/min" for scope in SCOPES})


def test_the_execute_and_order_endpoints_are_found():
    routes = {(param.values[1], param.values[0].route) for param in throttled_writes()}
    assert {("POST", "api/workflows/{pk}/execute/"), ("POST", "api/orders/"), ("DELETE", "api/orders/{pk}/")} <= routes


@pytest.mark.parametrize(("endpoint", "method"), list(throttled_writes()))
def test_a_trader_over_the_rate_gets_429_with_retry_after(alice, bob, alice_world, tiny_rates, endpoint, method):
    url = endpoint.url(alice_world)
    client = token_client(alice)
    for _ in range(RATE):
        response = client.generic(method, url, data="{}", content_type="application/json")
        assert response.status_code != 429, f"{method} {url} throttled before the rate"

    refused = client.generic(method, url, data="{}", content_type="application/json")

    assert refused.status_code == 429, f"{method} {url} answered {refused.status_code} over the rate"
    assert int(refused["Retry-After"]) > 0
    other = token_client(bob).generic(method, url, data="{}", content_type="application/json")
    assert other.status_code != 429
