"""A trader cannot reach another trader's objects through ids in a request body or query either.

Each request is sent twice by bob: naming alice's object it is refused (400/404) and changes
nothing; naming his own it succeeds, so the refusal is about whose object it is.
"""

import json

import pytest

from tests.tradingweb.security.clients import token_client
from tests.tradingweb.security.world import database_snapshot, owned_world
from workflows.models import WorkflowVersion
from workflows.templates import TEMPLATES_BY_TYPE

# (method, path on bob's objects, body or query naming the given world's objects)
REQUESTS = {
    "strategy on another's workflow": (
        "POST", lambda bob: "/api/strategies/", lambda world: {"name": "Mine", "workflow": world.workflow.pk},
    ),
    "strategy moved to another's workflow": (
        "PATCH", lambda bob: f"/api/strategies/{bob.strategy.pk}/", lambda world: {"workflow": world.workflow.pk},
    ),
    "execute another's strategy": (
        "POST", lambda bob: "/api/workflow/execute/", lambda world: {"strategy_id": world.strategy.pk},
    ),
    "execute own workflow for another's strategy": (
        "POST", lambda bob: f"/api/workflows/{bob.workflow.pk}/execute/",
        lambda world: {"strategy_id": world.strategy.pk},
    ),
    "batch with another's strategy and workflow": (
        "POST", lambda bob: "/api/workflows/execute-batch/",
        lambda world: [{"strategy_id": world.strategy.pk, "workflow_id": world.workflow.pk}],
    ),
    "schedule own workflow for another's strategy": (
        "POST", lambda bob: f"/api/workflows/{bob.workflow.pk}/schedule/",
        lambda world: {"cron_expression": "0 15 * * 1-5", "strategy_id": world.strategy.pk},
    ),
    "schedule moved to another's strategy": (
        "PATCH", lambda bob: f"/api/schedules/{bob.schedule.pk}/", lambda world: {"strategy_id": world.strategy.pk},
    ),
    "compare with another's workflow": (
        "GET", lambda bob: "/api/workflows/compare/", lambda world: {"ids": f"{world.workflow.pk}"},
    ),
}


@pytest.fixture
def bob_world(bob):
    """Bob's objects, his workflow a runnable built-in template so that his own requests go through."""
    world = owned_world(bob, symbol="ZZBO", marker="BOBSOWN")
    template = TEMPLATES_BY_TYPE["single_timeframe"]
    WorkflowVersion.objects.filter(pk=world.workflow.current_version_id).update(
        steps=template["steps"], parameters=template["parameters"]
    )
    return world


def send(client, method: str, path: str, payload):
    if method == "GET":
        return client.get(path, payload)
    return client.generic(method, path, data=json.dumps(payload), content_type="application/json")


@pytest.mark.parametrize("name", REQUESTS)
def test_naming_another_traders_object_is_refused_and_changes_nothing(bob, alice_world, bob_world, name):
    method, path, payload = REQUESTS[name]
    client = token_client(bob)
    before = database_snapshot()

    refused = send(client, method, path(bob_world), payload(alice_world))

    assert refused.status_code in (400, 404), f"{name}: {refused.status_code} {refused.content[:300]}"
    assert database_snapshot() == before
    allowed = send(client, method, path(bob_world), payload(bob_world))
    assert 200 <= allowed.status_code < 300, f"{name} with bob's own objects: {allowed.content[:300]}"
