"""The approval endpoints of a parked execution: read what to decide, then approve, reject or modify. Thin views.

GET  /api/workflow-executions/{id}/approval/  the request, the decision, its risk arithmetic, charts, transcript
POST /api/workflow-executions/{id}/approve/   202; the resumed run places the order
POST /api/workflow-executions/{id}/reject/    {reason?}; 202, no order
POST /api/workflow-executions/{id}/modify/    {target_price?, stop_loss?, quantity?}; 400 with reasons when risk refuses
409 when the execution is not awaiting approval, the request was answered, or the price moved too far.
"""

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.approvals import max_price_move_pct
from agents.models import ApprovalRequest
from agents.serializers import AgentMessageSerializer
from broker.adapters import BrokerError
from broker.serializers.market import ChartSerializer
from execution.approvals import (
    ApprovalConflict,
    ApprovalRefused,
    approval_approve,
    approval_modify,
    approval_overview,
    approval_reject,
)
from execution.models import WorkflowExecution
from execution.serializers.executions import DecisionSerializer
from tradingweb.access import visible_or_404


class ApprovalRequestSerializer(serializers.ModelSerializer):
    responder = serializers.CharField(source="responder.username", read_only=True, default=None)
    seconds_left = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalRequest
        fields = ["id", "status", "deadline", "seconds_left", "responder", "response", "created_at", "responded_at"]
        read_only_fields = fields

    def get_seconds_left(self, approval) -> int:
        if not approval.is_pending():
            return 0
        return max(0, int((approval.deadline - timezone.now()).total_seconds()))


class RejectRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


def _price_field():
    return serializers.DecimalField(max_digits=20, decimal_places=6, min_value=Decimal("0.000001"), required=False)


class ModifyRequestSerializer(serializers.Serializer):
    target_price = _price_field()
    stop_loss = _price_field()
    quantity = serializers.IntegerField(min_value=1, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("change at least one of target_price, stop_loss, quantity")
        if "quantity" in attrs:
            attrs["quantity"] = Decimal(attrs["quantity"])
        return attrs


class ApprovalOverviewSerializer(serializers.Serializer):
    """What a trader needs to answer: the request, the decision, its risk arithmetic, charts, the agents' talk."""

    execution_id = serializers.IntegerField(source="execution.pk")
    execution_status = serializers.CharField(source="execution.status")
    symbol = serializers.CharField(source="decision.instrument.symbol")
    approval = ApprovalRequestSerializer()
    decision = DecisionSerializer()
    risk = serializers.JSONField(source="decision.risk")
    charts = ChartSerializer(many=True)
    transcript = AgentMessageSerializer(many=True)
    max_price_move_pct = serializers.SerializerMethodField()

    def get_max_price_move_pct(self, overview) -> str:
        return str(max_price_move_pct())


class ApprovalAnsweredSerializer(ApprovalOverviewSerializer):
    task_id = serializers.CharField(source="execution.task_id", help_text="The task that resumes the execution.")


def _execution(request, pk: int) -> WorkflowExecution:
    return visible_or_404(request.user, WorkflowExecution.objects.select_related("strategy"), pk=pk)


def _overview(request, execution: WorkflowExecution, serializer_class=ApprovalOverviewSerializer) -> dict:
    overview = approval_overview(execution)
    if overview is None:
        raise NotFound(f"execution {execution.pk} has not asked for an approval")
    return serializer_class(overview, context={"request": request}).data


def _answered(request, pk: int, answer) -> Response:
    """Run one answer (a service call on the visible execution); its conflicts map to 409, 400 and 502."""
    execution = _execution(request, pk)
    try:
        answer(execution)
    except ApprovalConflict as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    except ApprovalRefused as exc:
        return Response({"detail": str(exc), "reasons": exc.reasons}, status=status.HTTP_400_BAD_REQUEST)
    except BrokerError as exc:
        return Response({"detail": f"the broker did not answer: {exc}"}, status=status.HTTP_502_BAD_GATEWAY)
    execution.refresh_from_db()
    return Response(_overview(request, execution, ApprovalAnsweredSerializer), status=status.HTTP_202_ACCEPTED)


class ApprovalView(APIView):
    """GET what a trader needs to answer the execution's (latest) approval request."""

    @extend_schema(responses=ApprovalOverviewSerializer)
    def get(self, request, pk: int):
        return Response(_overview(request, _execution(request, pk)))


class ApproveView(APIView):
    @extend_schema(request=None, responses={202: ApprovalAnsweredSerializer})
    def post(self, request, pk: int):
        return _answered(request, pk, lambda execution: approval_approve(execution=execution, user=request.user))


class RejectView(APIView):
    @extend_schema(request=RejectRequestSerializer, responses={202: ApprovalAnsweredSerializer})
    def post(self, request, pk: int):
        def reject(execution):
            serializer = RejectRequestSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            approval_reject(execution=execution, user=request.user, reason=serializer.validated_data["reason"])

        return _answered(request, pk, reject)


class ModifyView(APIView):
    @extend_schema(request=ModifyRequestSerializer, responses={202: ApprovalAnsweredSerializer})
    def post(self, request, pk: int):
        def modify(execution):
            serializer = ModifyRequestSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            approval_modify(execution=execution, user=request.user, changes=dict(serializer.validated_data))

        return _answered(request, pk, modify)
