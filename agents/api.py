"""The agents API: agent templates and agent analytics. Thin views."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.agent_templates import agent_templates
from agents.analytics import agent_analytics
from agents.providers import provider_choices
from agents.serializers import AgentTemplateSerializer, ModelProviderChoiceSerializer
from tradingweb.access import owner_scope


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
        return Response(agent_analytics(owner=owner_scope(request.user)))


class ModelProviderListView(APIView):
    """The providers and models a trader may pick by name (staff define them in the admin)."""

    @extend_schema(responses={200: ModelProviderChoiceSerializer(many=True)})
    def get(self, request):
        return Response(ModelProviderChoiceSerializer(provider_choices(), many=True).data)
