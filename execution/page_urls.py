"""Pages of the execution app (mounted under /)."""

from django.urls import path

from execution.views import analytics, executions, queue

urlpatterns = [
    path("analytics/", analytics.analytics, name="analytics"),
    # Executions: the live monitor and list, running one, one execution's detail and its live partials.
    path("executions/", executions.executions, name="executions"),
    path("executions/run/", executions.execution_run, name="executions-run"),
    path("executions/<int:pk>/", executions.execution_detail, name="executions-detail"),
    path("executions/<int:pk>/monitor-row/", executions.monitor_row, name="executions-monitor-row"),
    path("executions/<int:pk>/results/", executions.execution_sections, name="executions-results"),
    path("executions/<int:pk>/approval/", executions.execution_approval, name="executions-approval"),
    # The task queue and schedules.
    path("tasks/", queue.tasks, name="tasks"),
    path("tasks/lanes/", queue.task_lanes_partial, name="tasks-lanes"),
    path("tasks/metrics/", queue.task_metrics_partial, name="tasks-metrics"),
    path("schedules/", queue.schedules, name="schedules"),
    path("schedules/rows/", queue.schedule_rows_partial, name="schedules-rows"),
]
