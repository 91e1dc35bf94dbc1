from rest_framework.routers import SimpleRouter

from workflows.api import StepTypeViewSet, StrategyViewSet, WorkflowTemplateViewSet, WorkflowViewSet

router = SimpleRouter()
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("workflow-templates", WorkflowTemplateViewSet, basename="workflow-template")
router.register("workflow-step-types", StepTypeViewSet, basename="workflow-step-type")
router.register("strategies", StrategyViewSet, basename="strategy")

urlpatterns = router.urls
