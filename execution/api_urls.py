from django.urls import path
from rest_framework.routers import SimpleRouter

from execution.api import DecisionViewSet, StrategyExecuteView, WorkflowExecuteView, WorkflowExecutionViewSet
from execution.api_autogen import ExecutionAgentConversationView, StrategyAutogenConfigView

router = SimpleRouter()
router.register("workflow-executions", WorkflowExecutionViewSet, basename="workflow-execution")
router.register("decisions", DecisionViewSet, basename="decision")

urlpatterns = [
    path("workflows/<int:pk>/execute/", WorkflowExecuteView.as_view(), name="workflow-execute"),
    path("workflow/execute/", StrategyExecuteView.as_view(), name="strategy-execute"),
    path("strategies/<int:pk>/autogen-config/", StrategyAutogenConfigView.as_view(), name="strategy-autogen-config"),
    path("workflow-executions/<int:pk>/agent-conversation/", ExecutionAgentConversationView.as_view(),
         name="execution-agent-conversation"),
    *router.urls,
]
