"""The agents API: agent templates and agent analytics. Thin views."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.agent_templates import agent_templates
from agents.analytics import agent_analytics
from agents.serializers import AgentTemplateSerializer


class AgentTemplateListView(ListAPIView):
    """The agent templates a team is built from (staff edit them in the admin)."""

    serializer_class = AgentTemplateSerializer
    pagination_class = None
    filter_backends = []  # a plain list of templates: ordering, search and filters apply to querysets only

    def get_queryset(self):
        return list(agent_templates().values())


class AgentAnalyticsView(APIView):
    """Per agent: decisions influenced, accuracy against trade outcomes, confidence, tokens; best and worst."""

    @extend_schema(responses={200: dict})
    def get(self, request):
        owner = None if request.user.is_staff else request.user
        return Response(agent_analytics(owner=owner))
