"""Fixtures for execution tests: workflows from the built-in templates, strategies.

Tests that use the real worker (`celery_worker`, tests/conftest.py) or run the engine, whose step
threads open their own connections, need `@pytest.mark.django_db(transaction=True)`: other
threads only see committed rows.
"""

import time

import pytest

from execution.models import WorkflowExecution
from execution.runner import run_execution
from execution.services import execution_create
from workflows.services import strategy_create, workflow_create
from workflows.templates import BUILTIN_TEMPLATES

TEMPLATES = {template["type"]: template for template in BUILTIN_TEMPLATES}


@pytest.fixture(autouse=True)
def small_charts(settings):
    """Small chart images keep the suite fast; the rendering path is the same."""
    settings.CHART_WIDTH = 480
    settings.CHART_HEIGHT = 320


def wait_for_execution(execution_id: int, timeout: float = 120) -> WorkflowExecution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = WorkflowExecution.objects.get(pk=execution_id)
        if execution.is_finished():
            return execution
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_id} did not finish within {timeout} s (status {execution.status})")


def make_workflow(owner, steps: list[dict], *, parameters=None, name="Test workflow", workflow_type="custom"):
    return workflow_create(owner=owner, name=name, steps=steps, parameters=parameters or [], type=workflow_type)


def workflow_from_template(owner, template_type: str):
    template = TEMPLATES[template_type]
    return make_workflow(
        owner, template["steps"], parameters=template["parameters"], name=template["name"], workflow_type=template_type
    )


def run_custom_code(owner, code: str):
    """A one-symbol run of a workflow whose first step is a trader's custom_code, before the usual analysis."""
    workflow = make_workflow(
        owner,
        [
            {"id": "mine", "type": "custom_code", "name": "Mine", "config": {"code": code}},
            {"id": "fetch_daily", "type": "fetch_data", "name": "Daily", "config": {"label": "daily", "period": "1y",
                                                                                      "bar": "1d", "indicators": []}},
            {"id": "chart_daily", "type": "generate_chart", "name": "Chart", "config": {"label": "daily",
                                                                                         "source": "daily"}},
            {"id": "analyze", "type": "ai_analyze", "name": "Analyze", "config": {"label": "daily", "input": "daily"}},
        ],
    )  # fmt: skip
    execution = execution_create(owner=owner, strategy=make_strategy(owner, workflow, symbols=["AAPL"]))
    run_execution(execution.pk)
    return execution


def make_strategy(owner, workflow, symbols=("AAPL", "MSFT"), params=None, name="Test strategy"):
    return strategy_create(owner=owner, name=name, workflow=workflow, symbols=list(symbols), params=params or {})


@pytest.fixture
def no_symbol_delay():
    return {"symbol_delay": 0}
