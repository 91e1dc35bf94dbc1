from django.urls import path
from rest_framework.routers import SimpleRouter

from execution.api import DecisionViewSet, StrategyExecuteView, WorkflowExecuteView, WorkflowExecutionViewSet

router = SimpleRouter()
router.register("workflow-executions", WorkflowExecutionViewSet, basename="workflow-execution")
router.register("decisions", DecisionViewSet, basename="decision")

urlpatterns = [
    path("workflows/<int:pk>/execute/", WorkflowExecuteView.as_view(), name="workflow-execute"),
    path("workflow/execute/", StrategyExecuteView.as_view(), name="strategy-execute"),
    *router.urls,
]
