"""POST /api/workflow-executions/{id}/replay/: owners and staff replay, others get 404, unfinished runs 409."""

import pytest

from execution.models import WorkflowExecution
from tests.execution.conftest import wait_for_execution


def _replay_url(execution) -> str:
    return f"/api/workflow-executions/{execution.pk}/replay/"


@pytest.mark.django_db(transaction=True)
def test_the_owner_and_staff_replay_and_another_trader_gets_404(
    alice, alice_api, bob_api, staff_api, finished_execution
):
    mine = alice_api.post(_replay_url(finished_execution), {"mode": "stored"}, format="json")
    hidden = bob_api.post(_replay_url(finished_execution), {"mode": "stored"}, format="json")
    by_staff = staff_api.post(_replay_url(finished_execution), {"mode": "stored"}, format="json")

    assert mine.status_code == 201, mine.content
    assert mine.data["identical"] is True and mine.data["original_execution_id"] == finished_execution.pk
    assert {diff["symbol"] for diff in mine.data["decisions"]} == set(finished_execution.symbols)
    assert hidden.status_code == 404
    assert by_staff.status_code == 201 and by_staff.data["identical"] is True
    replays = WorkflowExecution.objects.filter(params__replay_of=finished_execution.pk)
    assert replays.count() == 2 and all(replay.owner == alice and replay.dry_run for replay in replays)


@pytest.mark.django_db(transaction=True)
def test_a_model_replay_answers_202_with_the_replay_and_its_task(alice_api, finished_execution, celery_worker):
    response = alice_api.post(_replay_url(finished_execution), {"mode": "model"}, format="json")

    assert response.status_code == 202, response.content
    assert response.data["status"] == "pending" and response.data["task_id"]
    replay = wait_for_execution(response.data["replay_execution_id"])
    assert replay.status == "completed" and replay.task_id == response.data["task_id"]
    # The same model (the offline analyst) on the same frozen inputs decides the same.
    assert replay.results["replay"]["identical"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["pending", "running", "awaiting_approval"])
def test_an_unfinished_execution_answers_409_and_nothing_is_created(alice, alice_api, status):
    execution = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"], status=status)

    response = alice_api.post(_replay_url(execution), {"mode": "stored"}, format="json")

    assert response.status_code == 409 and status in response.data["detail"]
    assert WorkflowExecution.objects.count() == 1


@pytest.mark.django_db
def test_an_unknown_mode_is_a_field_error(alice, alice_api):
    execution = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"], status="completed")

    response = alice_api.post(_replay_url(execution), {"mode": "again"}, format="json")

    assert response.status_code == 400 and "mode" in response.data
    assert WorkflowExecution.objects.count() == 1
