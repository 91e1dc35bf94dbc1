"""Who may reach what, for every route the resolver knows (new endpoints are covered as they appear).

anonymous: refused (API 401/403, pages to the login) except the public routes;
another trader: 404 on the owner's objects for every method, and nothing changes;
the owner, staff and the owner's token-only client: read the object.
"""

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from tests.tradingweb.security.clients import send, session_client, token_client
from tests.tradingweb.security.discovery import api_endpoints, page_endpoints
from tests.tradingweb.security.world import MARKERS, database_snapshot

API = api_endpoints()
PAGES = page_endpoints()
# Routes that answer only about the caller, staff included (staff read others' through the admin).
CALLER_ONLY_ROUTES = {"api/notifications/", "api/notifications/preferences/", "api/auth/me/token/"}
# Lists that show the owner's marked rows: proof that the leak checks above look at real rows.
OWNER_LISTS = [
    "/api/workflows/", "/api/strategies/", "/api/workflow-executions/", "/api/decisions/", "/api/orders/",
    "/api/schedules/", "/api/notifications/", "/api/backtests/", "/api/portfolio/positions/", "/api/portfolio/trades/",
]


def params(endpoints):
    return [pytest.param(endpoint, id=endpoint.route) for endpoint in endpoints]


def leaked_markers(response) -> list[str]:
    return [marker for marker in MARKERS if marker in response.content.decode(errors="replace")]


def filters_naming(world) -> dict:
    """List filters pointed at the owner's objects: a scoped list must still show nothing of theirs."""
    return {
        "owner": world.workflow.owner_id,
        "strategy": world.strategy.pk,
        "workflow": world.workflow.pk,
        "execution": world.execution.pk,
        "decision": world.decision.pk,
    }


@pytest.mark.parametrize("endpoint", params(e for e in API if not e.is_public))
def test_anonymous_callers_are_refused_by_every_api_endpoint(api_client, alice_world, endpoint):
    url = endpoint.url(alice_world)
    for method in endpoint.methods:
        response = send(api_client, method, url, endpoint.query(alice_world))
        assert response.status_code in (401, 403), f"{method} {url} answered {response.status_code} to anonymous"


@pytest.mark.parametrize("endpoint", params(e for e in API if e.is_public))
def test_the_public_api_endpoints_answer_anonymous_callers(api_client, alice_world, endpoint):
    url = endpoint.url(alice_world)
    for method in endpoint.methods:
        response = send(api_client, method, url)
        assert response.status_code < 500 and response.status_code not in (401, 403), f"{method} {url}"
        assert not leaked_markers(response)


@pytest.mark.parametrize("endpoint", params(e for e in API if e.is_owned))
def test_another_trader_gets_404_for_every_method_on_the_owners_object(bob, alice_world, endpoint):
    url = endpoint.url(alice_world)
    before = database_snapshot()
    for method in endpoint.methods:
        response = send(session_client(bob), method, url, endpoint.query(alice_world))
        assert response.status_code == 404, f"{method} {url} answered {response.status_code} to another trader"
        assert not leaked_markers(response)
    assert database_snapshot() == before


@pytest.mark.parametrize("endpoint", params(e for e in API if e.is_owned and "GET" in e.methods))
def test_the_owner_staff_and_the_owners_token_client_read_the_object(alice, staff, alice_world, endpoint):
    url = endpoint.url(alice_world)
    query = endpoint.query(alice_world)
    callers = {"owner": session_client(alice), "token": token_client(alice), "staff": session_client(staff)}
    for who, client in callers.items():
        response = send(client, "GET", url, query)
        assert response.status_code == 200, f"GET {url} answered {response.status_code} to the {who}"


@pytest.mark.parametrize("endpoint", params(e for e in API if not e.is_owned and "GET" in e.methods))
def test_lists_never_show_another_traders_rows(alice, bob, staff, alice_world, endpoint):
    url = endpoint.url(alice_world)
    query = endpoint.query(alice_world)
    response = send(session_client(bob), "GET", url, {**filters_naming(alice_world), **query})
    assert response.status_code < 500, f"GET {url} answered {response.status_code}"
    assert not leaked_markers(response), f"GET {url} shows another trader's rows"

    seen_by_owner = send(token_client(alice), "GET", url, query)
    assert seen_by_owner.status_code < 500
    if leaked_markers(seen_by_owner) and endpoint.route not in CALLER_ONLY_ROUTES:
        assert leaked_markers(send(session_client(staff), "GET", url, query)), f"staff do not see all at {url}"


@pytest.mark.parametrize("url", OWNER_LISTS)
def test_the_owner_sees_her_marked_rows_in_her_lists(alice, alice_world, url):
    assert leaked_markers(send(token_client(alice), "GET", url)), f"GET {url} does not show the owner's rows"


def page_url(endpoint, world) -> str:
    """A page's URL with the query string it needs to show the world's objects (discovery.QUERIES)."""
    query = urlencode(endpoint.query(world))
    return f"{endpoint.url(world)}?{query}" if query else endpoint.url(world)


@pytest.mark.parametrize("endpoint", params(e for e in PAGES if not e.is_public))
def test_anonymous_visitors_are_sent_to_the_login_page(client, alice_world, endpoint):
    url = page_url(endpoint, alice_world)
    response = client.get(url)
    assert response.status_code == 302, f"GET {url} answered {response.status_code} to anonymous"
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("endpoint", params(e for e in PAGES if e.is_owned))
def test_another_trader_gets_404_on_the_owners_pages_and_changes_nothing(client, bob, alice_world, endpoint):
    url = page_url(endpoint, alice_world)
    client.force_login(bob)
    before = database_snapshot()
    answers = {method: client.generic(method, url).status_code for method in ("GET", "POST")}
    # 405 (a method the view never takes) says nothing about the object; the method it takes must be 404.
    assert set(answers.values()) <= {404, 405} and 404 in answers.values(), f"{url} answered {answers}"
    assert database_snapshot() == before


@pytest.mark.parametrize("endpoint", params(e for e in PAGES if e.is_owned))
def test_the_owner_and_staff_reach_the_owners_pages(client, alice, staff, alice_world, endpoint):
    url = page_url(endpoint, alice_world)
    for user in (alice, staff):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code < 500 and response.status_code != 404, f"GET {url}: {response.status_code}"
