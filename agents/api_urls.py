from django.urls import path

from agents.api import AgentAnalyticsView, AgentTemplateListView, ModelProviderListView

urlpatterns = [
    path("autogen/agent-templates/", AgentTemplateListView.as_view(), name="agent-templates"),
    path("autogen/agent-analytics/", AgentAnalyticsView.as_view(), name="agent-analytics"),
    path("model-providers/", ModelProviderListView.as_view(), name="model-providers"),
]
