"""Pages of the execution app (mounted under /)."""

from django.urls import path

from execution import views, views_executions, views_queue

urlpatterns = [
    path("analytics/", views.analytics, name="analytics"),
    # Executions: the live monitor and list, running one, one execution's detail and its live partials.
    path("executions/", views_executions.executions, name="executions"),
    path("executions/run/", views_executions.execution_run, name="executions-run"),
    path("executions/<int:pk>/", views_executions.execution_detail, name="executions-detail"),
    path("executions/<int:pk>/monitor-row/", views_executions.monitor_row, name="executions-monitor-row"),
    path("executions/<int:pk>/results/", views_executions.execution_sections, name="executions-results"),
    path("executions/<int:pk>/approval/", views_executions.execution_approval, name="executions-approval"),
    # The task queue and schedules.
    path("tasks/", views_queue.tasks, name="tasks"),
    path("tasks/lanes/", views_queue.task_lanes_partial, name="tasks-lanes"),
    path("tasks/metrics/", views_queue.task_metrics_partial, name="tasks-metrics"),
    path("schedules/", views_queue.schedules, name="schedules"),
    path("schedules/rows/", views_queue.schedule_rows_partial, name="schedules-rows"),
]
