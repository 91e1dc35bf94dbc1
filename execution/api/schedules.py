"""The schedule API: cron schedules of a workflow for a strategy, and a cron preview for the UI's helper."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.models import Schedule
from execution.schedules import cron_slots, describe_cron, schedule_create, schedule_delete, schedule_update
from execution.serializers.queue import CronPreviewSerializer, ScheduleSerializer, ScheduleWriteSerializer
from tradingweb.access import visible_or_404
from tradingweb.api import VisibleToUserMixin
from workflows.models import Strategy, Workflow


def _service_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


def _strategy(user, data: dict) -> dict:
    """The validated data with strategy_id swapped for the strategy (None when not the caller's)."""
    data = dict(data)
    if "strategy_id" in data:
        data["strategy"] = Strategy.objects.visible_to(user).filter(pk=data.pop("strategy_id")).first()
    return data


class WorkflowScheduleView(APIView):
    """POST /api/workflows/{id}/schedule/: run this workflow for a strategy on a cron schedule (UTC)."""

    @extend_schema(request=ScheduleWriteSerializer, responses={201: ScheduleSerializer})
    def post(self, request, pk: int):
        workflow = visible_or_404(request.user, Workflow.objects.filter(deleted_at__isnull=True), pk=pk)
        serializer = ScheduleWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            schedule = schedule_create(
                owner=request.user, workflow=workflow, **_strategy(request.user, serializer.validated_data)
            )
        except DjangoValidationError as exc:
            raise _service_errors(exc) from exc
        return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)


class ScheduleViewSet(
    VisibleToUserMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """GET /api/schedules/ (filters workflow, strategy, enabled), /{id}/; PUT|PATCH|DELETE /{id}/."""

    queryset = Schedule.objects.select_related("workflow", "strategy")
    serializer_class = ScheduleSerializer
    filterset_fields = ["workflow", "strategy", "enabled"]
    ordering_fields = ["created_at"]
    lookup_value_regex = r"\d+"

    @extend_schema(request=ScheduleWriteSerializer, responses=ScheduleSerializer)
    def update(self, request, *args, partial=False, **kwargs):
        schedule = self.get_object()
        serializer = ScheduleWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = _strategy(request.user, serializer.validated_data)
        try:
            schedule = schedule_update(schedule, by=request.user, **changes)
        except DjangoValidationError as exc:
            raise _service_errors(exc) from exc
        return Response(ScheduleSerializer(schedule).data)

    @extend_schema(request=ScheduleWriteSerializer, responses=ScheduleSerializer)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, instance):
        schedule_delete(instance)

    @extend_schema(
        parameters=[OpenApiParameter("cron", OpenApiTypes.STR, required=True, description="e.g. 30 14 * * 1-5")],
        responses=CronPreviewSerializer,
    )
    @action(detail=False, methods=["get"])
    def preview(self, request):
        """The next 5 runs and a sentence describing a cron expression (UTC), before saving it."""
        expression = request.query_params.get("cron", "")
        try:
            description = describe_cron(expression)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"cron": exc.message_dict["cron_expression"]}) from exc
        slots = cron_slots(expression)
        body = {
            "cron_expression": " ".join(expression.split()),
            "description": description,
            "next_runs": [next(slots) for _ in range(5)],
        }
        return Response(CronPreviewSerializer(body).data)
