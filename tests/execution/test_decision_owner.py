"""A decision carries the owner of the run that made it, so a trader's decision list needs no join; decisions
made before the column existed get their owner from the upgrade."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from broker.models import Instrument
from execution.models import Decision, WorkflowExecution
from workflows.models import Strategy

BEFORE = [("execution", "0008_backtests")]
AFTER = [("execution", "0009_decision_owner")]


@pytest.fixture
def aapl(db):
    return Instrument.objects.create(symbol="AAPL", conid=265598, exchange="SIMX")


def test_a_decision_belongs_to_the_owner_of_its_execution(alice, aapl):
    execution = WorkflowExecution.objects.create(owner=alice)
    decision = Decision.objects.create(execution=execution, instrument=aapl, type="buy")
    assert decision.owner == alice


def test_a_decision_without_an_execution_belongs_to_the_owner_of_its_strategy(alice, aapl):
    strategy = Strategy.objects.create(owner=alice, name="Mine")
    assert Decision.objects.create(strategy=strategy, instrument=aapl, type="hold").owner == alice


def test_traders_see_their_own_decisions_and_staff_see_all(alice, bob, aapl, alice_api, bob_api, staff_api):
    decision = Decision.objects.create(execution=WorkflowExecution.objects.create(owner=alice), instrument=aapl,
                                       type="buy")  # fmt: skip
    assert [row["id"] for row in alice_api.get("/api/decisions/").json()["results"]] == [decision.pk]
    assert bob_api.get("/api/decisions/").json()["results"] == []
    assert bob_api.get(f"/api/decisions/{decision.pk}/").status_code == 404
    assert [row["id"] for row in staff_api.get("/api/decisions/").json()["results"]] == [decision.pk]


@pytest.mark.django_db(transaction=True)
def test_decisions_made_before_the_upgrade_get_the_owner_of_their_execution_or_strategy(alice, bob):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    instrument = Instrument.objects.create(symbol="AAPL", conid=265598, exchange="SIMX")  # tables the upgrade
    execution = WorkflowExecution.objects.create(owner=alice)  # leaves as they are
    strategy = Strategy.objects.create(owner=bob, name="Bob's")
    OldDecision = MigrationExecutor(connection).loader.project_state(BEFORE).apps.get_model("execution", "Decision")
    made = {"instrument_id": instrument.pk}
    from_execution = OldDecision.objects.create(execution_id=execution.pk, type="buy", **made)
    from_strategy = OldDecision.objects.create(strategy_id=strategy.pk, type="sell", **made)
    orphan = OldDecision.objects.create(type="hold", **made)

    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    owners = dict(Decision.objects.values_list("pk", "owner_id"))
    assert owners == {from_execution.pk: alice.pk, from_strategy.pk: bob.pk, orphan.pk: None}

    MigrationExecutor(connection).migrate(BEFORE)  # and back: the column goes, the decisions stay
    assert OldDecision.objects.count() == 3
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
