"""A cancel stops a model call that is waiting: out a provider's Retry-After, or for the provider's room.

The run uses the real OpenAI client against the fake OpenAI-compatible server and is cancelled the
way a trader cancels it (execution_cancel, which flags the running execution). The waits it would
otherwise sit out are 30 s or unbounded; the run ends long before, and nothing more is sent.
"""

import threading
import uuid

import pytest
from django.db import connections

from agents.limits import provider_capacity
from agents.models import LLMCall
from agents.providers import default_provider
from execution.cancel import execution_cancel
from execution.models import StepRun, WorkflowExecution
from execution.runner import run_execution
from execution.services import execution_create
from tests.execution.conftest import make_strategy, make_workflow
from tests.support.fake_openai import fake_openai_server
from tests.workers import wait_until

STEPS = [
    {"id": "fetch_daily", "type": "fetch_data", "name": "Daily",
     "config": {"label": "daily", "period": "1y", "bar": "1d", "indicators": []}},
    {"id": "chart_daily", "type": "generate_chart", "name": "Chart", "config": {"label": "daily", "source": "daily"}},
    {"id": "analyze", "type": "ai_analyze", "name": "Analyze", "config": {"label": "daily", "input": "daily"}},
]  # fmt: skip
# Far beyond the time the test waits for the run to end: a run that sat the wait out would fail it.
RETRY_AFTER_SECONDS = 30
RUN_ENDS_WITHIN_SECONDS = 15


@pytest.fixture
def provider(settings):
    """The default provider is the fake server, under a name of this test's own (its counts in Redis are its own)."""
    with fake_openai_server() as server:
        settings.LLM_PROVIDER, settings.LLM_BASE_URL, settings.LLM_API_KEY = "openai", server.url, "sk-test-key"
        settings.LLM_MODEL = "gpt-4o"
        settings.LLM_PROVIDER_NAME = f"waiting-{uuid.uuid4().hex[:8]}"
        settings.LLM_RETRY_BUDGET_SECONDS = 180
        yield server


class RunInThread:
    """The execution's run on a thread of its own, as a worker runs it, so that the test can cancel it."""

    def __init__(self, execution: WorkflowExecution):
        self.execution = execution
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        try:
            run_execution(self.execution.pk)
        finally:
            connections.close_all()

    def ended(self) -> bool:
        self.thread.join(timeout=RUN_ENDS_WITHIN_SECONDS)
        return not self.thread.is_alive()


def _analysis_run(owner) -> WorkflowExecution:
    strategy = make_strategy(owner, make_workflow(owner, STEPS), symbols=("AAPL",))
    return execution_create(owner=owner, strategy=strategy, dry_run=True, params={"symbol_delay": 0})


def _assert_cancelled_in_its_analysis(execution: WorkflowExecution) -> StepRun:
    execution.refresh_from_db()
    assert execution.status == WorkflowExecution.Status.CANCELLED, execution.error
    analysis = StepRun.objects.get(execution=execution, step_id="analyze")
    assert analysis.status == StepRun.Status.CANCELLED and analysis.output["cancelled"] is True
    assert analysis.error == ""
    assert execution.results["errors"] == []
    return analysis


@pytest.mark.django_db(transaction=True)
def test_a_cancel_ends_a_model_call_waiting_out_retry_after_and_no_retry_is_sent(alice, provider):
    provider.script.append((429, "Rate limit reached", 0, {"Retry-After": str(RETRY_AFTER_SECONDS)}))
    execution = _analysis_run(alice)
    run = RunInThread(execution)
    wait_until(lambda: LLMCall.objects.filter(execution=execution).exclude(error="").exists(),
               message="the provider refused the analysis with a Retry-After")  # fmt: skip

    execution_cancel(execution)

    assert run.ended(), f"the run still waited {RUN_ENDS_WITHIN_SECONDS} s after its cancel"
    analysis = _assert_cancelled_in_its_analysis(execution)
    assert "waited to retry" in analysis.output["reason"]
    assert len(provider.requests) == 1
    assert LLMCall.objects.filter(execution=execution).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_cancel_ends_a_model_call_waiting_for_its_provider_s_room(alice, provider, settings):
    settings.LLM_MAX_IN_FLIGHT = 1
    settings.LLM_LIMIT_WAIT_SECONDS = 600
    execution = _analysis_run(alice)
    limits = default_provider().limits
    with provider_capacity(settings.LLM_PROVIDER_NAME, limits, tokens=1, model="another run's call"):
        run = RunInThread(execution)
        wait_until(lambda: StepRun.objects.filter(execution=execution, step_id="analyze").exists(),
                   message="the analysis started while another call held the provider's only slot")  # fmt: skip

        execution_cancel(execution)

        assert run.ended(), f"the run still waited {RUN_ENDS_WITHIN_SECONDS} s after its cancel"
    analysis = _assert_cancelled_in_its_analysis(execution)
    assert "waited for capacity" in analysis.output["reason"]
    assert provider.requests == []
    assert not LLMCall.objects.filter(execution=execution).exists()
