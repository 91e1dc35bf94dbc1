"""Routes of the agents app: its API (agent templates, agent analytics, model providers). It has no pages."""

from django.urls import include, path

from agents.api import AgentAnalyticsView, AgentTemplateListView, ModelProviderListView

api_urlpatterns = [
    path("autogen/agent-templates/", AgentTemplateListView.as_view(), name="agent-templates"),
    path("autogen/agent-analytics/", AgentAnalyticsView.as_view(), name="agent-analytics"),
    path("model-providers/", ModelProviderListView.as_view(), name="model-providers"),
]

urlpatterns = [
    path("api/", include(api_urlpatterns)),
]
