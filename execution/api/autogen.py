"""The agent-team endpoints that need both apps: a strategy's team config and an execution's conversation.

`agents` may not import `workflows` or `execution`, so these thin views live here and call
agents' plain functions (validation, effective config) and serializers.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import AgentMessage
from agents.serializers import AgentMessageSerializer, AutogenConfigSerializer
from execution.models import WorkflowExecution
from tradingweb.access import visible_or_404
from workflows.models import Strategy

AUTOGEN_CONFIG_KEY = "autogen_config"


def strategy_set_autogen_config(strategy: Strategy, config: dict) -> Strategy:
    """Store a validated team config in the strategy's params, replacing the previous one."""
    strategy.params = {**(strategy.params or {}), AUTOGEN_CONFIG_KEY: config}
    strategy.save(update_fields=["params", "updated_at"])
    return strategy


class StrategyAutogenConfigView(APIView):
    """GET the strategy's effective team config; PUT a new one (validated, field errors on 400)."""

    def strategy(self, request, pk: int) -> Strategy:
        return visible_or_404(request.user, Strategy.objects.all(), pk=pk)

    # The serializer declares no fields (agents.team_config validates the whole document): an object in the schema.
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        stored = (self.strategy(request, pk).params or {}).get(AUTOGEN_CONFIG_KEY) or {}
        return Response(AutogenConfigSerializer(stored).data)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def put(self, request, pk: int):
        strategy = self.strategy(request, pk)
        serializer = AutogenConfigSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        strategy_set_autogen_config(strategy, serializer.validated_data)
        return Response(AutogenConfigSerializer(serializer.validated_data).data)


class ExecutionAgentConversationView(ListAPIView):
    """The agent team's messages of an execution, oldest first (`?symbol=` narrows to one symbol)."""

    serializer_class = AgentMessageSerializer

    def get_queryset(self):
        executions = WorkflowExecution.objects.visible_to(self.request.user)
        execution = get_object_or_404(executions, pk=self.kwargs["pk"])
        messages = AgentMessage.objects.filter(execution=execution).order_by("id")
        symbol = self.request.query_params.get("symbol")
        return messages.filter(symbol=symbol.upper()) if symbol else messages
