"""Pages of workflows (list, template gallery, builder, versions) and strategies.

Page names start with the plural ("workflows-…", "strategies-…") so they never meet the API's
router names ("workflow-detail", "workflow-versions", …).
"""

from django.urls import path

from workflows import views

urlpatterns = [
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
