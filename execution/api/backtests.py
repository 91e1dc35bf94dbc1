"""The backtest API: start one (202), follow it, list them by workflow, cancel it. Thin views.

POST /api/workflows/{id}/backtests/ ; GET /api/backtests/?workflow= ; GET|DELETE /api/backtests/{id}/ ;
GET /api/backtests/compare/?a=&b=
"""

from decimal import Decimal

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from execution.backtests.calendar import DAILY
from execution.backtests.results import compared_figures
from execution.backtests.services import backtest_cancel, backtest_create, backtest_enqueue
from execution.models import Backtest, BacktestDecision
from tradingweb.access import visible_or_404
from tradingweb.api import VisibleToUserMixin
from workflows.models import Strategy, Workflow


class BacktestRequestSerializer(serializers.Serializer):
    strategy_id = serializers.IntegerField()
    start = serializers.DateField()
    end = serializers.DateField()
    every = serializers.CharField(max_length=64, default=DAILY)
    model = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    initial_cash = serializers.DecimalField(max_digits=20, decimal_places=2, min_value=Decimal("1"),
                                            default=Decimal("100000"))  # fmt: skip
    commission = serializers.DecimalField(max_digits=12, decimal_places=6, min_value=Decimal("0"),
                                          default=Decimal("0.005"))  # fmt: skip
    slippage_bps = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=Decimal("0"),
                                            max_value=Decimal("1000"), default=Decimal("0"))  # fmt: skip


class BacktestCreatedSerializer(serializers.Serializer):
    backtest_id = serializers.IntegerField()
    task_id = serializers.CharField()


class BacktestDecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = BacktestDecision
        fields = [
            "point", "symbol", "type", "status", "reference_price", "target_price", "stop_loss", "quantity",
            "confidence", "r_coefficient", "analysis_text", "rejection_reasons", "error", "order_id",
        ]  # fmt: skip


class BacktestSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number", read_only=True)

    class Meta:
        model = Backtest
        fields = [
            "id", "workflow", "version", "strategy", "symbols", "start", "end", "every", "model", "initial_cash",
            "commission", "slippage_bps", "status", "task_id", "progress", "results", "estimated_cost", "cost",
            "model_calls", "cached_calls", "error", "created_at", "started_at", "completed_at",
        ]  # fmt: skip


class BacktestDetailSerializer(BacktestSerializer):
    decisions = BacktestDecisionSerializer(many=True, read_only=True)

    class Meta(BacktestSerializer.Meta):
        fields = [*BacktestSerializer.Meta.fields, "decisions"]


class WorkflowBacktestView(APIView):
    """POST /api/workflows/{id}/backtests/"""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "execute"

    @extend_schema(request=BacktestRequestSerializer, responses={202: BacktestCreatedSerializer})
    def post(self, request, pk: int):
        workflow = visible_or_404(request.user, Workflow.objects.filter(deleted_at__isnull=True), pk=pk)
        serializer = BacktestRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        strategy = Strategy.objects.visible_to(request.user).filter(pk=data.pop("strategy_id")).first()
        if strategy is None:
            raise serializers.ValidationError({"strategy_id": ["strategy not found"]})
        try:
            with transaction.atomic():
                backtest = backtest_create(owner=request.user, workflow=workflow, strategy=strategy, **data)
                task_id = backtest_enqueue(backtest)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        body = {"backtest_id": backtest.pk, "task_id": task_id}
        return Response(BacktestCreatedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class BacktestCompareQuerySerializer(serializers.Serializer):
    a = serializers.IntegerField(min_value=1)
    b = serializers.IntegerField(min_value=1)


class ComparedFigureSerializer(serializers.Serializer):
    a = serializers.JSONField(allow_null=True)
    b = serializers.JSONField(allow_null=True)
    difference = serializers.JSONField(allow_null=True, help_text="b − a (money as strings, to the cent)")


class BacktestComparisonSerializer(serializers.Serializer):
    a = BacktestSerializer()
    b = BacktestSerializer()
    figures = serializers.DictField(child=ComparedFigureSerializer())


class BacktestFilter(django_filters.FilterSet):
    class Meta:
        model = Backtest
        fields = ["workflow", "strategy", "status"]


class BacktestViewSet(
    VisibleToUserMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):  # fmt: skip
    """GET /api/backtests/ (?workflow=), GET /api/backtests/{id}/, DELETE /api/backtests/{id}/ (cancel)."""

    queryset = Backtest.objects.select_related("version")
    serializer_class = BacktestSerializer
    filterset_class = BacktestFilter

    def get_serializer_class(self):
        return BacktestDetailSerializer if self.action == "retrieve" else BacktestSerializer

    @extend_schema(parameters=[BacktestCompareQuerySerializer], responses={200: BacktestComparisonSerializer})
    @action(detail=False, methods=["get"], url_path="compare")
    def compare(self, request):
        """Two backtests side by side (any workflows): each one, and each figure of both with the difference b − a."""
        query = BacktestCompareQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        first = visible_or_404(request.user, self.queryset, pk=query.validated_data["a"])
        second = visible_or_404(request.user, self.queryset, pk=query.validated_data["b"])
        body = {"a": first, "b": second, "figures": compared_figures(first.results or {}, second.results or {})}
        return Response(BacktestComparisonSerializer(body).data)

    @extend_schema(responses={200: BacktestSerializer})
    def destroy(self, request, *args, **kwargs):
        """Cancels: the backtest stops before its next decision point and keeps what it computed."""
        backtest = backtest_cancel(self.get_object())
        return Response(BacktestSerializer(backtest).data)
