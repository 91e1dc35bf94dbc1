"""Routes of the workflows app: its API (workflows, templates, step types, strategies) and its pages (list,
template gallery, builder, versions, strategies).

Page names start with the plural ("workflows-…", "strategies-…") so they never meet the API's
router names ("workflow-detail", "workflow-versions", …).
"""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from workflows import views
from workflows.api import StepTypeViewSet, StrategyViewSet, WorkflowTemplateViewSet, WorkflowViewSet

router = SimpleRouter()
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("workflow-templates", WorkflowTemplateViewSet, basename="workflow-template")
router.register("workflow-step-types", StepTypeViewSet, basename="workflow-step-type")
router.register("strategies", StrategyViewSet, basename="strategy")

api_urlpatterns = router.urls

urlpatterns = [
    path("api/", include(api_urlpatterns)),
    path("workflows/", views.workflow_list, name="workflows"),
    path("workflows/new/", views.workflow_new, name="workflows-new"),
    path("workflows/import/", views.workflow_import, name="workflows-import"),
    path("workflows/<int:pk>/", views.workflow_builder, name="workflows-builder"),
    path("workflows/<int:pk>/versions/", views.workflow_versions, name="workflows-history"),
    path("workflows/<int:pk>/versions/<int:number>/revert/", views.workflow_revert, name="workflows-revert"),
    path("workflows/<int:pk>/clone/", views.workflow_clone, name="workflows-clone"),
    path("workflows/<int:pk>/delete/", views.workflow_delete, name="workflows-delete"),
    path("workflows/<int:pk>/export/", views.workflow_export, name="workflows-export"),
    path("strategies/", views.strategy_list, name="strategies"),
    path("strategies/new/", views.strategy_create, name="strategies-new"),
    path("strategies/<int:pk>/", views.strategy_edit, name="strategies-edit"),
    path("strategies/<int:pk>/delete/", views.strategy_delete, name="strategies-delete"),
]
