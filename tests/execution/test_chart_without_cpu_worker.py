"""A chart step whose cpu queue nobody consumes fails its symbol saying so, instead of waiting forever."""

import uuid

import pytest

from broker.models import Chart
from execution.models import StepRun, WorkflowExecution
from execution.runner import run_execution
from tradingweb.celery import app
from workflows.models import Workflow, WorkflowVersion

STEPS = [
    {
        "id": "fetch_daily",
        "type": "fetch_data",
        "name": "Fetch daily bars",
        "config": {"label": "daily", "period": "1y", "bar": "1d", "indicators": ["sma"]},
    },
    {
        "id": "chart_daily",
        "type": "generate_chart",
        "name": "Chart daily",
        "config": {"label": "daily", "source": "daily", "indicators": ["sma"]},
    },
]


@pytest.fixture
def unconsumed_cpu_queue(settings):
    settings.CPU_WORK_QUEUE = f"cpu-nobody-{uuid.uuid4().hex[:6]}"
    settings.CHART_RENDER_TIMEOUT_SECONDS = 1
    yield settings.CPU_WORK_QUEUE
    with app.connection_for_write() as connection:
        connection.default_channel.queue_delete(settings.CPU_WORK_QUEUE)


@pytest.mark.django_db(transaction=True)
def test_a_chart_nobody_draws_fails_the_symbol_naming_the_cpu_queue(alice, unconsumed_cpu_queue):
    workflow = Workflow.objects.create(owner=alice, name="Chart only")
    version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=STEPS)
    execution = WorkflowExecution.objects.create(
        owner=alice, workflow=workflow, version=version, symbols=["AAPL"], params={"symbol_delay": 0}
    )

    run_execution(execution.pk)

    execution.refresh_from_db()
    chart_run = StepRun.objects.get(execution=execution, step_id="chart_daily")
    assert execution.status == "failed" and chart_run.status == "failed"
    assert f"no chart within 1 s: is a cpu worker consuming queue '{unconsumed_cpu_queue}'" in chart_run.error
    assert chart_run.attempt == 1  # not retried: a missing worker does not come back within a backoff
    assert not Chart.objects.exists()
