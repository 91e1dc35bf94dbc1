"""The execution API: start runs, follow them, read their step runs and decisions. Thin views."""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from broker.models import Order
from execution.models import Decision, StepRun, WorkflowExecution
from execution.serializers.executions import (
    DecisionSerializer,
    ExecuteRequestSerializer,
    ExecuteResponseSerializer,
    StepRunSerializer,
    StrategyExecuteRequestSerializer,
    WorkflowExecutionSerializer,
)
from execution.services import execution_create, execution_enqueue
from tradingweb.access import visible_or_404
from tradingweb.api import UTCDateTimeFilter, VisibleToUserMixin, serializer_columns
from workflows.models import Strategy, Workflow


class ExecuteMixin:
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "execute"

    def start(self, request, data: dict, workflow: Workflow | None) -> Response:
        strategy = Strategy.objects.visible_to(request.user).filter(pk=data["strategy_id"]).first()
        if strategy is None:
            raise serializers.ValidationError({"strategy_id": ["strategy not found"]})
        try:
            with transaction.atomic():
                execution = execution_create(
                    owner=request.user,
                    workflow=workflow,
                    strategy=strategy,
                    symbols=data.get("symbols"),
                    priority=data["priority"],
                    dry_run=data["dry_run"],
                    params=data.get("params") or {},
                    triggered_by=WorkflowExecution.Trigger.API
                    if request.auth is not None
                    else WorkflowExecution.Trigger.USER,
                )
                task_id = execution_enqueue(execution)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        body = {"workflow_execution_id": execution.pk, "task_id": task_id}
        return Response(ExecuteResponseSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class WorkflowExecuteView(ExecuteMixin, APIView):
    """POST /api/workflows/{id}/execute/"""

    @extend_schema(request=ExecuteRequestSerializer, responses={202: ExecuteResponseSerializer})
    def post(self, request, pk: int):
        workflow = visible_or_404(request.user, Workflow.objects.filter(deleted_at__isnull=True), pk=pk)
        serializer = ExecuteRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.start(request, serializer.validated_data, workflow)


class StrategyExecuteView(ExecuteMixin, APIView):
    """POST /api/workflow/execute/ {strategy_id}: run the strategy's own workflow (or its legacy flow)."""

    @extend_schema(request=StrategyExecuteRequestSerializer, responses={202: ExecuteResponseSerializer})
    def post(self, request):
        serializer = StrategyExecuteRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.start(request, serializer.validated_data, None)


class ExecutionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=WorkflowExecution.Status.choices)
    priority = django_filters.ChoiceFilter(choices=WorkflowExecution.Priority.choices)
    strategy = django_filters.NumberFilter(field_name="strategy_id")
    workflow = django_filters.NumberFilter(field_name="workflow_id")
    since = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UTCDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = WorkflowExecution
        fields = ["status", "priority", "strategy", "workflow", "since", "until"]


class WorkflowExecutionViewSet(VisibleToUserMixin, viewsets.ReadOnlyModelViewSet):
    """GET /api/workflow-executions/ (filters), /{id}/ and /{id}/steps/."""

    queryset = WorkflowExecution.objects.select_related("workflow", "strategy", "version").only(
        *serializer_columns(WorkflowExecutionSerializer, WorkflowExecution)
    )
    serializer_class = WorkflowExecutionSerializer
    filterset_class = ExecutionFilter
    ordering_fields = ["created_at", "started_at", "completed_at"]

    @extend_schema(responses=StepRunSerializer(many=True))
    @action(detail=True, methods=["get"])
    def steps(self, request, pk=None):
        execution = self.get_object()
        runs = StepRun.objects.filter(execution=execution).only(*serializer_columns(StepRunSerializer, StepRun))
        runs = runs.order_by("id")
        symbol = request.query_params.get("symbol")
        if symbol:
            runs = runs.filter(symbol=symbol.upper())
        return Response(StepRunSerializer(runs, many=True, context=self.get_serializer_context()).data)


class DecisionFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=Decision.Type.choices)
    status = django_filters.ChoiceFilter(choices=Decision.Status.choices)
    strategy = django_filters.NumberFilter(field_name="strategy_id")
    execution = django_filters.NumberFilter(field_name="execution_id")
    symbol = django_filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact")
    since = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UTCDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Decision
        fields = ["type", "status", "strategy", "execution", "symbol", "since", "until"]


class DecisionViewSet(VisibleToUserMixin, viewsets.ReadOnlyModelViewSet):
    """GET /api/decisions/ (filters) and /{id}/."""

    queryset = (
        Decision.objects.select_related("instrument")
        .only(*serializer_columns(DecisionSerializer, Decision))
        .prefetch_related(Prefetch("orders", queryset=Order.objects.only("id", "decision_id", "created_at")))
    )
    serializer_class = DecisionSerializer
    filterset_class = DecisionFilter
    ordering_fields = ["created_at", "confidence"]
