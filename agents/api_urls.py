from django.urls import path

from agents.api import AgentAnalyticsView, AgentTemplateListView

urlpatterns = [
    path("autogen/agent-templates/", AgentTemplateListView.as_view(), name="agent-templates"),
    path("autogen/agent-analytics/", AgentAnalyticsView.as_view(), name="agent-analytics"),
]
