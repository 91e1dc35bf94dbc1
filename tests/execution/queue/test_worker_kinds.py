"""The two worker kinds: executions run on an io worker (threads), their charts are drawn by a cpu worker.

Both are real `python -m tradingweb.worker io|cpu` processes, as the Procfile and compose start them,
against the run's PostgreSQL and Redis. The model is a fake OpenAI-compatible server.
"""

import threading

import pytest
from django_celery_results.models import TaskResult

from broker.models import Chart
from execution.models import StepRun, WorkflowExecution
from execution.services import execution_enqueue
from tests.support.fake_openai import fake_openai_server
from tests.workers import KindWorkerProcess, finished, wait_until
from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.processes

CHART_STEPS = [
    {
        "id": "fetch_daily",
        "type": "fetch_data",
        "name": "Fetch daily bars",
        "config": {"label": "daily", "period": "1y", "bar": "1d", "indicators": ["sma", "rsi"]},
    },
    {
        "id": "chart_daily",
        "type": "generate_chart",
        "name": "Chart daily",
        "config": {"label": "daily", "source": "daily", "indicators": ["sma", "rsi"]},
    },
    {
        "id": "analyze_daily",
        "type": "ai_analyze",
        "name": "Analyze daily chart",
        "config": {"label": "daily", "input": "daily", "prompt_template": "", "model": ""},
    },
]
AT_ONCE = 6


def model_env(server) -> dict:
    return {
        "LLM_PROVIDER": "openai",
        "LLM_BASE_URL": server.url,
        "LLM_API_KEY": "sk-test-key",
        "LLM_MODEL": "gpt-4o",
        "LLM_RETRY_BASE_SECONDS": "0",
    }


@pytest.fixture
def start_worker_kinds(exclusive):
    """Starts an io worker and a cpu worker with the model at `server` (after `exclusive` paused the others)."""
    started = []

    def start(server, io_concurrency: int) -> tuple[KindWorkerProcess, KindWorkerProcess]:
        env = {**model_env(server), "CPU_WORK_QUEUE": "cpu"}
        io = KindWorkerProcess("io", concurrency=io_concurrency, env=env).start()
        cpu = KindWorkerProcess("cpu", concurrency=1, env=env).start()
        started.extend([io, cpu])
        return io.wait_ready(), cpu.wait_ready()

    yield start
    for process in started:
        process.stop()


def chart_executions(owner, count: int) -> list[WorkflowExecution]:
    workflow = Workflow.objects.create(owner=owner, name="Chart and analysis")
    version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=CHART_STEPS)
    workflow.current_version = version
    workflow.save(update_fields=["current_version"])
    executions = [
        WorkflowExecution.objects.create(
            owner=owner, workflow=workflow, version=version, symbols=["AAPL"], params={"symbol_delay": 0}
        )
        for _ in range(count)
    ]
    for execution in executions:
        execution_enqueue(execution)
    return executions


def wait_finished(executions, io, cpu, timeout: float = 120) -> list[WorkflowExecution]:
    def finished_while_both_run(pk):
        assert io.running() and cpu.running(), f"a worker exited:\n{io.log_tail()}\n{cpu.log_tail()}"
        return finished(pk)

    return [
        wait_until(lambda pk=e.pk: finished_while_both_run(pk), timeout=timeout, message=f"execution {e.pk} finished")
        for e in executions
    ]


def step_errors(execution) -> list[str]:
    return list(StepRun.objects.filter(execution=execution).exclude(error="").values_list("error", flat=True))


def task_workers(name: str) -> list[str]:
    return list(TaskResult.objects.filter(task_name=name).values_list("worker", flat=True))


@pytest.mark.django_db(transaction=True)
def test_an_execution_runs_on_the_io_worker_and_its_chart_is_drawn_by_the_cpu_worker(alice, start_worker_kinds):
    with fake_openai_server(lambda body: "An uptrend above the 20-day average.") as server:
        io, cpu = start_worker_kinds(server, io_concurrency=4)
        (execution,) = chart_executions(alice, 1)
        (execution,) = wait_finished([execution], io, cpu)

    assert execution.status == "completed", step_errors(execution)
    chart_run = StepRun.objects.get(execution=execution, step_id="chart_daily")
    chart = Chart.objects.get(pk=chart_run.output["chart_id"])
    assert chart.instrument.symbol == "AAPL" and (chart.period, chart.bar) == ("1y", "1d")
    assert chart.image.storage.exists(chart.image.name) and chart.sha256 == chart_run.output["sha256"]
    assert task_workers("execution.run_workflow_execution") == [io.hostname]
    assert task_workers("broker.render_chart") == [cpu.hostname]
    analysis = StepRun.objects.get(execution=execution, step_id="analyze_daily")
    assert analysis.output["response"] == "An uptrend above the 20-day average."


@pytest.mark.django_db(transaction=True)
def test_one_io_worker_runs_many_executions_at_once(alice, start_worker_kinds):
    """The model answers no call until all AT_ONCE calls are in flight: only executions side by side finish."""
    all_in_flight = threading.Barrier(AT_ONCE)
    released = []

    def answer_once_all_are_waiting(body) -> str:
        all_in_flight.wait(timeout=45)  # a broken barrier fails the call, and the run with it
        released.append(True)
        return "Sideways."

    with fake_openai_server(answer_once_all_are_waiting) as server:
        io, cpu = start_worker_kinds(server, io_concurrency=AT_ONCE + 2)
        executions = wait_finished(chart_executions(alice, AT_ONCE), io, cpu, timeout=180)

    assert [e.status for e in executions] == ["completed"] * AT_ONCE, [step_errors(e) for e in executions]
    assert len(released) == AT_ONCE and not all_in_flight.broken
    assert set(task_workers("execution.run_workflow_execution")) == {io.hostname}
    # The runs chart the same bars: the cpu worker draws that chart once, and every run shows it.
    assert task_workers("broker.render_chart") == [cpu.hostname]
    charts = StepRun.objects.filter(execution__in=executions, step_type="generate_chart").values_list(
        "output__chart_id", flat=True
    )
    assert len(charts) == AT_ONCE and len(set(charts)) == 1
