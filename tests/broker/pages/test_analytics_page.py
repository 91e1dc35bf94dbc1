"""The analytics page: the trader's own figures and charts, workflows compared with the best value of
each contested figure highlighted, and the agents' record."""

from datetime import date, timedelta

from django.urls import reverse
from django.utils import timezone

from execution.activity import comparison_rows, executions_by_day
from execution.analytics import compare_workflows
from execution.models import WorkflowExecution
from tradingweb import selectors


def test_it_counts_executions_per_day_with_their_success_rate(alice, alice_history):
    workflow = alice_history.workflow
    WorkflowExecution.objects.create(owner=alice, workflow=workflow, status=WorkflowExecution.Status.FAILED)
    WorkflowExecution.objects.create(owner=alice, workflow=workflow, status=WorkflowExecution.Status.RUNNING)
    old = WorkflowExecution.objects.create(owner=alice, workflow=workflow, status=WorkflowExecution.Status.COMPLETED)
    WorkflowExecution.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    series = executions_by_day(WorkflowExecution.objects.all(), days=3)
    assert [row["date"] for row in series] == [
        (timezone.now().date() - timedelta(days=offset)).isoformat() for offset in (2, 1, 0)
    ]
    assert [(row["completed"], row["failed"], row["other"]) for row in series] == [(1, 0, 0), (0, 0, 0), (1, 1, 1)]
    assert [row["success_rate"] for row in series] == [100, None, 50]
    assert isinstance(date.fromisoformat(series[0]["date"]), date)


def test_the_comparison_marks_the_best_value_of_each_contested_metric(alice, alice_history):
    first = alice_history.workflow
    second = type(first).objects.create(owner=alice, name="Second", type=first.type)
    for status in ("failed", "failed", "completed"):
        WorkflowExecution.objects.create(owner=alice, workflow=second, status=status)
    workflows = list(selectors.workflow_comparison(alice, days=30))
    rows = comparison_rows(workflows, compare_workflows(workflows))
    best = {row["workflow"].name: {cell["metric"].key for cell in row["cells"] if cell["best"]} for row in rows}
    assert best["Alice workflow"] >= {"success_rate", "orders_placed"}
    assert "success_rate" not in best["Second"] and "total_executions" in best["Second"]


def test_a_single_workflow_has_nothing_to_beat(alice, alice_history):
    workflows = list(selectors.workflow_comparison(alice, days=30))
    rows = comparison_rows(workflows, compare_workflows(workflows))
    assert not any(cell["best"] for row in rows for cell in row["cells"])


def test_the_page_shows_own_figures_and_chart_data(alice_client, alice_history, bob_history):
    html = alice_client.get(reverse("analytics")).content.decode()
    assert "Alice workflow" in html and "Bob workflow" not in html
    assert 'data-stat-chart="executions-over-time"' in html
    assert 'data-stat-chart="decision-breakdown"' in html
    assert 'data-stat-chart="success-rate"' in html
    assert 'id="executions-by-day-data"' in html


def test_choosing_workflows_limits_the_comparison(alice_client, alice, alice_history):
    second = type(alice_history.workflow).objects.create(owner=alice, name="Second", type=alice_history.workflow.type)
    WorkflowExecution.objects.create(owner=alice, workflow=second, status="completed")
    both = alice_client.get(reverse("analytics")).content.decode()
    chosen = alice_client.get(reverse("analytics"), {"workflows": [second.pk]}).content.decode()
    assert f'data-workflow="{alice_history.workflow.pk}"' in both and f'data-workflow="{second.pk}"' in both
    assert f'data-workflow="{alice_history.workflow.pk}"' not in chosen and f'data-workflow="{second.pk}"' in chosen


def test_another_traders_workflow_cannot_be_chosen(alice_client, alice_history, bob_history):
    html = alice_client.get(reverse("analytics"), {"workflows": [bob_history.workflow.pk]}).content.decode()
    assert "Bob workflow" not in html


def test_an_empty_window_says_what_to_do(alice_client):
    html = alice_client.get(reverse("analytics"), {"days": "7"}).content.decode()
    assert "No executions in this window" in html
    assert "No workflow ran in this window" in html
    assert "No agent debates yet" in html


def test_agents_are_listed_with_their_record(alice_client, alice, alice_history):
    from agents.models import AgentMessage

    AgentMessage.objects.create(
        execution=alice_history.execution, symbol="AAPL", agent_name="technical_analyst",
        message_type=AgentMessage.MessageType.TEXT, content="Trend up: BUY", stance="BUY", tokens=120,
    )
    html = alice_client.get(reverse("analytics")).content.decode()
    assert 'data-agent="technical_analyst"' in html
