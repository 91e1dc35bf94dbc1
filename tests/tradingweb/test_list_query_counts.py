"""The main list endpoints answer in a fixed number of queries, whether the page holds 1 row or 20.

Each endpoint is asked once with one row of everything it shows (workflow, strategy, version,
instrument, order, step runs) and once with twenty; the second answer must take exactly the
queries of the first. A serializer that reaches into a relation row by row fails here.
"""

import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from broker.models import Instrument, Order
from execution.models import Decision, StepRun, WorkflowExecution
from workflows.models import Strategy, Workflow, WorkflowVersion

ROWS = 20
numbers = itertools.count(1)


def add_workflow(owner) -> Workflow:
    n = next(numbers)
    workflow = Workflow.objects.create(owner=owner, name=f"Workflow {n}")
    steps = [{"id": "pause", "type": "wait", "name": "Pause", "config": {"seconds": 0}}]
    workflow.current_version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=steps)
    workflow.save(update_fields=["current_version"])
    return workflow


def add_execution(owner, *, status="completed") -> WorkflowExecution:
    """An execution with its workflow, version, strategy, a step run, a decision and an order."""
    n = next(numbers)
    workflow = add_workflow(owner)
    strategy = Strategy.objects.create(owner=owner, name=f"Strategy {n}", workflow=workflow)
    instrument = Instrument.objects.create(symbol=f"Q{n}", conid=900000 + n, exchange="SIMX", currency="USD")
    execution = WorkflowExecution.objects.create(
        owner=owner,
        workflow=workflow,
        version=workflow.current_version,
        strategy=strategy,
        symbols=[instrument.symbol],
        status=status,
        task_id=f"task-{n}",
        progress={"current_step": 1, "total_steps": 1},
    )
    StepRun.objects.create(execution=execution, symbol=instrument.symbol, index=0, step_id="pause",
                           step_type="wait", status="running" if status == "running" else "completed")  # fmt: skip
    decision = Decision.objects.create(
        execution=execution, strategy=strategy, instrument=instrument, type="buy", current_price=Decimal("10"),
        status="executed",
    )  # fmt: skip
    Order.objects.create(
        owner=owner, decision=decision, execution=execution, strategy=strategy, instrument=instrument,
        side="BUY", quantity=Decimal("1"), order_type="LMT", limit_price=Decimal("10"), tif="DAY",
        idempotency_key=f"perf-{n}", status="submitted", broker_order_id=str(n),
    )  # fmt: skip
    return execution


def assert_constant_queries(client, url: str, add_row, django_assert_num_queries) -> None:
    """The queries of one GET of `url` with one row, then the same number with ROWS rows."""
    add_row()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    for _ in range(ROWS - 1):
        add_row()
    with django_assert_num_queries(len(captured)):
        response = client.get(url)
    assert response.status_code == 200
    if response["Content-Type"] == "application/json":
        assert response.json()["count"] == ROWS


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/api/workflow-executions/", "/api/decisions/", "/api/orders/", "/api/workflows/", "/api/strategies/"]
)
def test_a_list_page_takes_the_same_queries_for_1_row_and_for_20(alice, alice_api, url, django_assert_num_queries):
    assert_constant_queries(alice_api, url, lambda: add_execution(alice), django_assert_num_queries)


@pytest.mark.django_db
def test_the_task_list_takes_the_same_queries_for_1_running_task_and_for_20(
    alice, alice_api, django_assert_num_queries
):
    assert_constant_queries(
        alice_api, "/api/tasks/", lambda: add_execution(alice, status="running"), django_assert_num_queries
    )


@pytest.mark.django_db
def test_staff_see_everyone_s_executions_in_the_same_queries(alice, bob, staff_api, django_assert_num_queries):
    owners = itertools.cycle([alice, bob])
    assert_constant_queries(
        staff_api, "/api/workflow-executions/", lambda: add_execution(next(owners)), django_assert_num_queries
    )


@pytest.mark.django_db
def test_the_task_queue_page_takes_the_same_queries_for_1_running_task_and_for_20(
    alice, client, django_assert_num_queries
):
    client.force_login(alice)
    assert_constant_queries(
        client, "/tasks/lanes/", lambda: add_execution(alice, status="running"), django_assert_num_queries
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/workflow-executions/", "/api/decisions/", "/api/orders/", "/api/workflows/"])
def test_a_page_reached_by_its_cursor_takes_the_same_queries_for_1_row_and_for_20(
    alice, alice_api, url, django_assert_num_queries
):
    for _ in range(2 * ROWS + 1):
        add_execution(alice)
    small = alice_api.get(f"{url}?limit=1").json()["next"]
    large = alice_api.get(f"{url}?limit={ROWS}").json()["next"]
    with CaptureQueriesContext(connection) as captured:
        assert len(alice_api.get(small).json()["results"]) == 1
    with django_assert_num_queries(len(captured)):
        assert len(alice_api.get(large).json()["results"]) == ROWS


@pytest.mark.django_db
def test_an_execution_s_step_runs_take_the_same_queries_for_1_and_for_20(alice, alice_api, django_assert_num_queries):
    execution = add_execution(alice)
    url = f"/api/workflow-executions/{execution.pk}/steps/"
    with CaptureQueriesContext(connection) as captured:
        assert len(alice_api.get(url).json()) == 1
    StepRun.objects.bulk_create(
        StepRun(execution=execution, symbol=execution.symbols[0], index=n, step_id=f"s{n}", step_type="wait")
        for n in range(1, ROWS)
    )
    with django_assert_num_queries(len(captured)):
        assert len(alice_api.get(url).json()) == ROWS
