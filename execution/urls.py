"""Routes of the execution app: its API (running workflows, approvals, schedules, the task queue, analytics,
notifications) and its pages (executions, the queue, schedules, analytics)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from execution.api.analytics import WorkflowCompareView, WorkflowMetricsView
from execution.api.approvals import ApprovalView, ApproveView, ModifyView, RejectView
from execution.api.autogen import ExecutionAgentConversationView, StrategyAutogenConfigView
from execution.api.backtests import BacktestViewSet, WorkflowBacktestView
from execution.api.batch import ExecuteBatchView
from execution.api.executions import DecisionViewSet, StrategyExecuteView, WorkflowExecuteView, WorkflowExecutionViewSet
from execution.api.notifications import NotificationPreferenceView, NotificationViewSet, ReconcileView
from execution.api.replay import ExecutionReplayView
from execution.api.schedules import ScheduleViewSet, WorkflowScheduleView
from execution.api.tasks import TaskDetailView, TaskListView, TaskMetricsView
from execution.views import analytics, backtests, executions, queue

router = SimpleRouter()
router.register("workflow-executions", WorkflowExecutionViewSet, basename="workflow-execution")
router.register("decisions", DecisionViewSet, basename="decision")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("schedules", ScheduleViewSet, basename="schedule")
router.register("backtests", BacktestViewSet, basename="backtest")

api_urlpatterns = [
    path("workflows/<int:pk>/execute/", WorkflowExecuteView.as_view(), name="workflow-execute"),
    path("workflow/execute/", StrategyExecuteView.as_view(), name="strategy-execute"),
    path("workflows/execute-batch/", ExecuteBatchView.as_view(), name="workflow-execute-batch"),
    path("workflows/<int:pk>/backtests/", WorkflowBacktestView.as_view(), name="workflow-backtests"),
    path("workflows/<int:pk>/schedule/", WorkflowScheduleView.as_view(), name="workflow-schedule"),
    path("tasks/", TaskListView.as_view(), name="task-list"),
    path("tasks/metrics/", TaskMetricsView.as_view(), name="task-metrics"),
    path("tasks/<str:task_id>/", TaskDetailView.as_view(), name="task-detail"),
    path("strategies/<int:pk>/autogen-config/", StrategyAutogenConfigView.as_view(), name="strategy-autogen-config"),
    path("workflow-executions/<int:pk>/agent-conversation/", ExecutionAgentConversationView.as_view(),
         name="execution-agent-conversation"),
    path("workflow-executions/<int:pk>/approval/", ApprovalView.as_view(), name="execution-approval"),
    path("workflow-executions/<int:pk>/approve/", ApproveView.as_view(), name="execution-approve"),
    path("workflow-executions/<int:pk>/reject/", RejectView.as_view(), name="execution-reject"),
    path("workflow-executions/<int:pk>/modify/", ModifyView.as_view(), name="execution-modify"),
    path("workflow-executions/<int:pk>/replay/", ExecutionReplayView.as_view(), name="execution-replay"),
    path("workflows/<int:pk>/metrics/", WorkflowMetricsView.as_view(), name="workflow-metrics"),
    path("workflows/compare/", WorkflowCompareView.as_view(), name="workflow-compare"),
    path("notifications/preferences/", NotificationPreferenceView.as_view(), name="notification-preferences"),
    path("portfolio/reconcile/", ReconcileView.as_view(), name="portfolio-reconcile"),
    *router.urls,
]

urlpatterns = [
    path("api/", include(api_urlpatterns)),
    path("analytics/", analytics.analytics, name="analytics"),
    # Executions: the live monitor and list, running one, one execution's detail and its live partials.
    path("executions/", executions.executions, name="executions"),
    path("executions/run/", executions.execution_run, name="executions-run"),
    path("executions/<int:pk>/", executions.execution_detail, name="executions-detail"),
    path("executions/<int:pk>/monitor-row/", executions.monitor_row, name="executions-monitor-row"),
    path("executions/<int:pk>/results/", executions.execution_sections, name="executions-results"),
    path("executions/<int:pk>/approval/", executions.execution_approval, name="executions-approval"),
    path("backtests/compare/", backtests.backtest_compare, name="backtests-compare"),
    path("backtests/<int:pk>/", backtests.backtest_detail, name="backtests-detail"),
    # The task queue and schedules.
    path("tasks/", queue.tasks, name="tasks"),
    path("tasks/lanes/", queue.task_lanes_partial, name="tasks-lanes"),
    path("tasks/metrics/", queue.task_metrics_partial, name="tasks-metrics"),
    path("schedules/", queue.schedules, name="schedules"),
    path("schedules/rows/", queue.schedule_rows_partial, name="schedules-rows"),
]
