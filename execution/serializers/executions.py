"""Input and output shapes of the execution API (field names per DESIGN.md §10)."""

from rest_framework import serializers

from execution.models import Decision, StepRun, WorkflowExecution


class ExecuteRequestSerializer(serializers.Serializer):
    strategy_id = serializers.IntegerField(min_value=1)
    symbols = serializers.ListField(child=serializers.CharField(max_length=32), required=False, allow_empty=False)
    priority = serializers.ChoiceField(
        choices=WorkflowExecution.Priority.choices, default=WorkflowExecution.Priority.NORMAL
    )
    dry_run = serializers.BooleanField(default=False)
    params = serializers.DictField(required=False, default=dict)


class StrategyExecuteRequestSerializer(ExecuteRequestSerializer):
    """POST /api/workflow/execute/: the strategy's own workflow."""


class ExecuteResponseSerializer(serializers.Serializer):
    workflow_execution_id = serializers.IntegerField()
    task_id = serializers.CharField()


class StaffOnlyDetailMixin:
    """`detail` (a failure's traceback, with the server's paths) is filled in only for staff; others read ""."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if not (request and request.user.is_staff):
            data["detail"] = ""
        return data


class WorkflowExecutionSerializer(StaffOnlyDetailMixin, serializers.ModelSerializer):
    workflow_name = serializers.CharField(source="workflow.name", read_only=True, default=None)
    strategy_name = serializers.CharField(source="strategy.name", read_only=True, default=None)
    version = serializers.IntegerField(source="version.number", read_only=True, default=None)

    class Meta:
        model = WorkflowExecution
        fields = [
            "id",
            "workflow",
            "workflow_name",
            "version",
            "strategy",
            "strategy_name",
            "status",
            "priority",
            "dry_run",
            "task_id",
            "symbols",
            "params",
            "progress",
            "results",
            "error",
            "detail",
            "triggered_by",
            "schedule",
            "cancel_requested",
            "created_at",
            "started_at",
            "completed_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"detail": {"help_text": "Staff only: an unexpected error's traceback (empty for others)."}}


class StepRunSerializer(StaffOnlyDetailMixin, serializers.ModelSerializer):
    class Meta:
        model = StepRun
        fields = [
            "id",
            "symbol",
            "index",
            "step_id",
            "step_type",
            "status",
            "attempt",
            "started_at",
            "finished_at",
            "duration_ms",
            "output",
            "error",
            "detail",
        ]
        read_only_fields = fields
        extra_kwargs = {"detail": {"help_text": "Staff only: the failure's full traceback (empty for others)."}}


class DecisionSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    order = serializers.SerializerMethodField()
    reference_age_seconds = serializers.SerializerMethodField(
        help_text="Seconds since the market was at reference_price (now)."
    )

    class Meta:
        model = Decision
        fields = [
            "id",
            "execution",
            "strategy",
            "symbol",
            "type",
            "current_price",
            "reference_price",
            "reference_source",
            "reference_time",
            "reference_age_seconds",
            "reference_market_data_type",
            "target_price",
            "stop_loss",
            "quantity",
            "profit_margin",
            "r_coefficient",
            "confidence",
            "analysis_text",
            "key_factors",
            "status",
            "rejection_reasons",
            "risk",
            "order",
            "created_at",
        ]
        read_only_fields = fields

    def get_reference_age_seconds(self, decision) -> int | None:
        return decision.reference_age_seconds()

    def get_order(self, decision) -> int | None:
        orders = list(decision.orders.all())
        return orders[0].pk if orders else None
