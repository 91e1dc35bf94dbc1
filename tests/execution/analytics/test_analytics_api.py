"""GET /api/workflows/{id}/metrics/ and /api/workflows/compare/: owner, other trader and staff."""

import pytest
from django.utils import timezone

from workflows.models import Workflow

from .conftest import seed_execution

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(workflow, aapl):
    today = timezone.now().date()
    seed_execution(workflow, day=today, seconds=10, decision="buy", r="2", order=True, trade_pnl="3", instrument=aapl)
    seed_execution(workflow, day=today, status="failed")
    return workflow


def test_the_owner_reads_a_workflows_metrics(seeded, alice_api):
    body = alice_api.get(f"/api/workflows/{seeded.pk}/metrics/").json()

    assert (body["total_executions"], body["success_rate"], body["orders_placed"]) == (2, 50.0, 1)
    assert body["decisions"] == {"BUY": 1, "SELL": 0, "HOLD": 0} and body["win_rate"] == 100.0
    assert body["average_r"] == 2.0 and len(body["days"]) == 1


def test_another_trader_gets_404_and_staff_see_it(seeded, bob_api, staff_api):
    assert bob_api.get(f"/api/workflows/{seeded.pk}/metrics/").status_code == 404
    assert staff_api.get(f"/api/workflows/{seeded.pk}/metrics/").json()["total_executions"] == 2


def test_filters_are_validated(seeded, alice_api):
    url = f"/api/workflows/{seeded.pk}/metrics/"
    assert alice_api.get(url, {"since": "yesterday"}).status_code == 400
    assert "until" in alice_api.get(url, {"since": "2026-03-05", "until": "2026-03-01"}).json()
    assert alice_api.get(url, {"since": "2000-01-01", "until": "2000-01-02"}).json()["total_executions"] == 0


def test_compare_takes_the_callers_workflows(seeded, alice, alice_api):
    other = Workflow.objects.create(owner=alice, name="Swing")

    body = alice_api.get("/api/workflows/compare/", {"ids": f"{other.pk},{seeded.pk}"}).json()

    assert [row["workflow"] for row in body["workflows"]] == [other.pk, seeded.pk]
    assert body["best"]["total_executions"] == [seeded.pk]


def test_compare_answers_404_when_any_workflow_is_someone_elses(seeded, bob, bob_api, staff_api):
    bobs = Workflow.objects.create(owner=bob, name="Bob's")

    assert bob_api.get("/api/workflows/compare/", {"ids": f"{bobs.pk},{seeded.pk}"}).status_code == 404
    assert staff_api.get("/api/workflows/compare/", {"ids": f"{bobs.pk},{seeded.pk}"}).status_code == 200


@pytest.mark.parametrize("ids", ["", "1,x", ",,"])
def test_compare_refuses_bad_ids(alice_api, ids):
    response = alice_api.get("/api/workflows/compare/", {"ids": ids})

    assert response.status_code == 400 and "ids" in response.json()
