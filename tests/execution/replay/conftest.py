"""Fixtures for replay tests: a finished execution of a built-in template that placed real (simulated) orders.

The engine runs steps on threads with their own database connections, so these tests use
`@pytest.mark.django_db(transaction=True)`.
"""

import pytest

from execution.models import WorkflowExecution
from execution.runner import run_execution
from execution.services import execution_create
from tests.execution.conftest import make_strategy, small_charts, workflow_from_template  # noqa: F401 - a fixture

SYMBOLS = ("AAPL", "MSFT", "NVDA")


@pytest.fixture
def finished_execution(alice, market_open) -> WorkflowExecution:
    """Alice's single-timeframe run over three symbols on a trading day, live (paper) orders included, finished."""
    workflow = workflow_from_template(alice, "single_timeframe")
    strategy = make_strategy(alice, workflow, symbols=SYMBOLS)
    execution = execution_create(owner=alice, strategy=strategy, params={"symbol_delay": 0})
    run_execution(execution.pk)
    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.COMPLETED
    return execution
