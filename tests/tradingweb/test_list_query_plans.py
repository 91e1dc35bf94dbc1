"""At a size where PostgreSQL's planner prefers an index only when one fits, every query of the big lists
reads executions, step runs, decisions and orders through an index: no sequential scan that grows with
the table.

Seeded with bulk_create and one INSERT … SELECT (5,000 executions, 45,000 step runs, 5,000 decisions,
about 3,300 orders, four in five of them alice's), ANALYZEd, then each list is fetched as a trader and
as staff (first page, a cursor page, a filter) and every query it made is EXPLAINed.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from broker.models import Instrument, Order
from execution.models import Decision, StepRun, WorkflowExecution
from workflows.models import Strategy, Workflow

EXECUTIONS = 5_000
STEPS_PER = 9
BIG_TABLES = ("execution_workflowexecution", "execution_steprun", "execution_decision", "broker_order")
ORIGIN = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are PostgreSQL's")


def copy_step_runs(copies: int) -> None:
    """Each execution's first step run copied as its next `copies` steps, in one INSERT … SELECT."""
    columns = [f'"{field.column}"' for field in StepRun._meta.concrete_fields if not field.primary_key]
    copied = [f"{column} + n" if column == '"index"' else column for column in columns]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO execution_steprun ({', '.join(columns)}) "
            f"SELECT {', '.join(copied)} FROM execution_steprun, generate_series(1, %s) AS n",
            [copies],
        )


@pytest.fixture
def seeded(alice, bob):
    instruments = Instrument.objects.bulk_create(
        Instrument(symbol=f"P{n:02d}", conid=800000 + n, exchange="SIMX") for n in range(20)
    )
    strategies = {owner: Strategy.objects.create(owner=owner, name=f"{owner.username}'s",
                                                 workflow=Workflow.objects.create(owner=owner, name="W"))
                  for owner in (alice, bob)}  # fmt: skip
    owners = [bob if n % 5 == 0 else alice for n in range(EXECUTIONS)]
    executions = WorkflowExecution.objects.bulk_create(
        WorkflowExecution(owner=owner, strategy=strategies[owner], workflow=strategies[owner].workflow,
                          status="failed" if n % 50 == 0 else "completed", symbols=[instruments[n % 20].symbol])
        for n, owner in enumerate(owners)
    )  # fmt: skip
    with connection.cursor() as cursor:  # a minute apart, as a year of runs would be
        cursor.execute("UPDATE execution_workflowexecution SET created_at = %s + id * interval '1 minute'", [ORIGIN])
    StepRun.objects.bulk_create(
        StepRun(execution=execution, symbol=execution.symbols[0], index=0, step_id="s0", step_type="wait",
                status="completed", output={"rows": 250})
        for execution in executions
    )  # fmt: skip
    copy_step_runs(STEPS_PER - 1)
    decisions = Decision.objects.bulk_create(
        Decision(owner=execution.owner, execution=execution, strategy=execution.strategy,
                 instrument=instruments[n % 20], type=("buy", "sell", "hold")[n % 3], status="executed")
        for n, execution in enumerate(executions)
    )  # fmt: skip
    Order.objects.bulk_create(
        Order(owner=decision.owner, decision=decision, execution=decision.execution, strategy=decision.strategy,
              instrument=decision.instrument, side="BUY", quantity=Decimal("1"), limit_price=Decimal("10"),
              idempotency_key=f"plan-{decision.pk}", status="filled")
        for decision in decisions if decision.type != "hold"
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return executions


def sequential_scans(client, url: str) -> tuple[dict, list[str]]:
    """The page at `url`, and the plan of each of its queries that scans a big table sequentially."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    scans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            if not query["sql"].lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN {query['sql']}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            if any(f"Seq Scan on {table}" in plan for table in BIG_TABLES):
                scans.append(f"{url}\n{query['sql']}\n{plan}")
    return response.json(), scans


LISTS = [
    "/api/workflow-executions/",
    "/api/workflow-executions/?status=failed",
    "/api/decisions/",
    "/api/orders/",
    "/api/workflows/",
]


@pytest.mark.django_db
def test_the_big_lists_read_their_tables_through_indexes(seeded, alice_api, staff_api):
    scans = []
    for client in (alice_api, staff_api):
        for url in LISTS:
            page, found = sequential_scans(client, url)
            scans += found
            if page["next"]:
                scans += sequential_scans(client, page["next"])[1]
        middle = seeded[EXECUTIONS // 2 + 1]
        scans += sequential_scans(client, f"/api/workflow-executions/{middle.pk}/steps/")[1]
    assert not scans, "\n\n".join(scans)
    page = alice_api.get("/api/workflow-executions/").json()  # beyond the exact limit, the planner's estimate
    assert page["count_exact"] is False
    assert EXECUTIONS * 4 / 5 / 2 < page["count"] < 2 * EXECUTIONS
