"""A trader runs strategies and follows them live in the browser: monitor, detail page, conversation, cancel, queue.

Runs go through a real Celery worker of this test run (the offline analyst, the simulated broker);
the pages are served under ASGI (tests/e2e/asgi_live_server.py) so their websockets carry the
worker's progress events. "Live" is checked by marking the document and finding the mark again
after the page changed: nothing reloaded it.
"""

import re

import pytest
from playwright.sync_api import expect

from execution.models import WorkflowExecution
from execution.services import execution_create, execution_enqueue
from tests.e2e.conftest import save_screenshots
from tests.execution.conftest import make_strategy, workflow_from_template
from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.e2e
RUN_TIMEOUT_MS = 150_000


@pytest.fixture(autouse=True)
def quick_runs(settings):
    """Small charts and no model back-off keep each run to seconds; the code paths are the production ones."""
    settings.CHART_WIDTH = 480
    settings.CHART_HEIGHT = 320
    settings.LLM_PROVIDER = "offline"
    settings.LLM_RETRY_BASE_SECONDS = 0
    return settings


def mark_document(page):
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page):
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"


def screenshots(page, name: str) -> None:
    """Saved from the top of the page, without the toasts of what the test just did."""
    page.evaluate("document.querySelectorAll('#toasts > *').forEach((toast) => toast.remove()); window.scrollTo(0, 0)")
    save_screenshots(page, name)


def start_run(owner, strategy, **options) -> WorkflowExecution:
    execution = execution_create(owner=owner, strategy=strategy, **options)
    execution_enqueue(execution)
    return execution


def waiting_workflow(owner, seconds: int) -> Workflow:
    """A workflow that only waits (saved as is: the builder would want data and decision steps)."""
    workflow = Workflow.objects.create(owner=owner, name="Slow wait")
    steps = [{"id": "pause", "type": "wait", "name": "Pause", "config": {"seconds": seconds}}]
    workflow.current_version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=steps)
    workflow.save(update_fields=["current_version"])
    return workflow


def test_a_trader_runs_a_strategy_and_watches_its_steps_complete_live(logged_in_page, trader, celery_worker):
    page = logged_in_page
    strategy = make_strategy(trader, workflow_from_template(trader, "single_timeframe"), params={"symbol_delay": 0})

    page.goto(f"/executions/run/?strategy={strategy.pk}")
    expect(page.locator("[data-run-symbols] input[value='AAPL']")).to_be_visible()
    page.locator("[data-run-symbols] label", has_text="MSFT").click()
    page.locator("[data-run-symbols] label", has_text="AAPL").click()
    page.locator("[data-run-priority] label", has_text="High").click()
    page.locator("[data-run-dry]").check()
    page.locator("[data-run-submit]").click()

    expect(page).to_have_url(re.compile(r"/executions/\d+/$"))
    expect(page.locator("#toasts")).to_contain_text("queued on the high lane")
    expect(page.locator("[data-live-status]")).to_have_text("Live")
    mark_document(page)
    execution = WorkflowExecution.objects.get(strategy=strategy)
    assert (execution.priority, execution.dry_run, sorted(execution.symbols)) == ("high", True, ["AAPL", "MSFT"])

    aapl = page.locator("[data-timeline-symbol='AAPL']")
    expect(aapl.locator("[data-step='fetch_daily'][data-step-status='completed']")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.locator("[data-exec-status] [data-status='completed']")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.locator("[data-summary] [data-field='percent']")).to_have_text("100")
    for symbol in ("AAPL", "MSFT"):
        steps = page.locator(f"[data-timeline-symbol='{symbol}'] [data-step]")
        expect(steps).to_have_count(6)
        expect(page.locator(f"[data-timeline-symbol='{symbol}'] [data-step-status='pending']")).to_have_count(0)
    assert_not_reloaded(page)

    page.locator("[data-tab='results']").click()
    expect(page.locator("#decisions [data-decision]")).to_have_count(2)
    expect(page.locator("#orders")).to_contain_text("Dry run")
    assert page.problems.messages == []
    screenshots(page, "execution-detail")


def test_the_monitor_shows_a_run_appear_progress_and_finish_without_reloading(logged_in_page, trader, celery_worker):
    page = logged_in_page
    strategy = make_strategy(
        trader,
        workflow_from_template(trader, "single_timeframe"),
        symbols=("AAPL", "MSFT", "NVDA"),
        params={"symbol_delay": 2},
        name="Tech scan",
    )
    page.goto("/executions/")
    expect(page.locator("[data-monitor-empty]")).to_contain_text("Nothing running right now")
    expect(page.locator("#monitor [data-live-status]")).to_have_text("Live")
    mark_document(page)

    execution = start_run(trader, strategy, dry_run=True)

    row = page.locator(f"[data-monitor-row='{execution.pk}']")
    expect(row).to_be_visible(timeout=30_000)
    expect(row).to_contain_text("Tech scan")
    expect(row.locator("[data-status='running']")).to_be_visible(timeout=60_000)
    expect(row.locator("[data-field='symbol']")).to_have_text(re.compile("AAPL|MSFT|NVDA"))
    screenshots(page, "monitor")
    expect(row.locator("[data-status='completed']")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(row.locator("[data-field='percent']")).to_have_text("100")
    expect(row.locator("[data-field='symbols-done']")).to_have_text("3")
    expect(page.locator(f"#execution-history [data-execution='{execution.pk}']")).to_be_visible()
    assert_not_reloaded(page)
    assert page.problems.messages == []


def test_a_trader_reads_the_agent_teams_conversation_as_it_happens(logged_in_page, trader, celery_worker):
    page = logged_in_page
    strategy = make_strategy(
        trader, workflow_from_template(trader, "autogen_multi_agent"), symbols=("AAPL",), params={"symbol_delay": 0}
    )
    execution = start_run(trader, strategy, dry_run=True)

    page.goto(f"/executions/{execution.pk}/")
    page.locator("[data-tab='conversation']").click()
    conversation = page.locator("#conversation")
    expect(conversation).to_be_visible()
    expect(conversation.locator("[data-final]")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(conversation.locator("[data-agent='TechnicalAnalyst']").first).to_be_visible()
    expect(conversation.locator("[data-agent='RiskManager']").first).to_be_visible()
    expect(conversation.locator("[data-final] [data-final-label]")).to_be_visible()
    expect(conversation.locator("[data-final-label]:visible")).to_have_count(1)
    expect(conversation.locator("[data-final] [data-tokens]")).to_contain_text("tokens")
    assert conversation.locator("[data-agent-message]").count() >= 3
    expect(page.locator("[data-exec-status] [data-status='completed']")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert page.problems.messages == []
    screenshots(page, "agent-conversation")


def test_a_trader_cancels_a_running_execution_from_its_page(logged_in_page, trader, celery_worker):
    page = logged_in_page
    workflow = waiting_workflow(trader, 30)
    execution = WorkflowExecution.objects.create(
        owner=trader, workflow=workflow, version=workflow.current_version, symbols=["AAPL", "MSFT"],
        params={"symbol_delay": 0},
    )
    execution_enqueue(execution)

    page.goto(f"/executions/{execution.pk}/")
    expect(page.locator("[data-step='pause'][data-step-status='running']")).to_be_visible(timeout=60_000)
    page.locator("[data-cancel-execution]").click()
    expect(page.get_by_role("alertdialog")).to_contain_text(f"Cancel execution #{execution.pk}?")
    page.locator("[data-confirm-cancel]").click()

    button = page.locator("[data-cancel-execution]")
    expect(button).to_contain_text(re.compile("Cancelling…|Cancelled"))
    expect(button).to_contain_text("Cancelled", timeout=60_000)
    expect(page.locator("[data-exec-status] [data-status='cancelled']")).to_be_visible()
    expect(page.locator("[data-step='pause'][data-step-status='running']")).to_have_count(0)
    assert WorkflowExecution.objects.get(pk=execution.pk).status == "cancelled"
    assert page.problems.messages == []


def test_the_task_queue_lists_a_running_task_and_cancels_it(logged_in_page, trader, celery_worker):
    page = logged_in_page
    workflow = waiting_workflow(trader, 30)
    execution = WorkflowExecution.objects.create(
        owner=trader, workflow=workflow, version=workflow.current_version, symbols=["AAPL", "MSFT"],
        params={"symbol_delay": 0}, priority="high",
    )
    execution_enqueue(execution)

    page.goto("/tasks/")
    row = page.locator(f"[data-lane='high'] [data-execution='{execution.pk}']")
    expect(row).to_be_visible()
    expect(page.locator("[data-metric='worker_count'] [data-value]")).to_be_visible()
    expect(row.locator("[data-status='running']")).to_be_visible(timeout=60_000)
    screenshots(page, "task-queue")

    row.locator("[data-cancel-task]").click()
    page.locator("[data-confirm-cancel-task]").click()
    expect(page.locator("#toasts")).to_contain_text(f"execution #{execution.pk}")
    expect(row).to_have_count(0, timeout=60_000)
    expect(page.locator("[data-lane='high'] [data-empty-state]")).to_be_visible()
    assert page.problems.messages == []
