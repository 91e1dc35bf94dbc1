"""The task queue dashboard and the schedules page: the trader's own rows, figures, next runs."""

from django.urls import reverse

from execution.views.queue import schedule_rows


def test_the_task_lanes_list_the_traders_waiting_runs_with_a_cancel_button(client, alice, alice_history, bob_history):
    for history in (alice_history, bob_history):
        history.execution.status = "running"
        history.execution.priority = "high"
        history.execution.task_id = f"task-{history.execution.pk}"
        history.execution.save()
    client.force_login(alice)
    html = client.get(reverse("tasks-lanes")).content.decode()
    assert f'data-cancel-task="task-{alice_history.execution.pk}"' in html
    assert f'data-execution="{bob_history.execution.pk}"' not in html
    assert 'data-lane="high"' in html


def test_the_metrics_partial_shows_the_queue_figures(client, alice, alice_history):
    client.force_login(alice)
    html = client.get(reverse("tasks-metrics")).content.decode()
    for metric in ("worker_count", "tasks_queued", "tasks_active", "tasks_completed_today", "average_duration"):
        assert f'data-metric="{metric}"' in html
    assert 'data-queued="high"' in html


def test_schedules_show_the_cron_in_words_and_the_next_run(alice, alice_history):
    (row,) = schedule_rows(alice)
    assert row["schedule"] == alice_history.schedule
    assert row["cron"] == "At 14:30, Monday through Friday (UTC)"
    assert row["next_run"].weekday() < 5
    assert (row["next_run"].hour, row["next_run"].minute) == (14, 30)


def test_a_paused_schedule_has_no_next_run(client, alice, alice_history):
    alice_history.schedule.enabled = False
    alice_history.schedule.save()
    client.force_login(alice)
    html = client.get(reverse("schedules-rows")).content.decode()
    assert 'data-enabled="false"' in html
    assert "paused" in html


def test_the_schedules_page_offers_only_the_traders_workflows_and_strategies(
    client, alice, runnable_strategy, bob_history
):
    client.force_login(alice)
    html = client.get(reverse("schedules")).content.decode()
    assert "Alice runnable" in html
    assert "Bob strategy" not in html
    assert "Bob workflow" not in html


def test_an_empty_schedules_page_says_what_to_do(client, alice):
    client.force_login(alice)
    html = client.get(reverse("schedules")).content.decode()
    assert "No schedules yet" in html
    assert "New schedule" in html
