"""Workflow analytics API: one workflow's metrics and a comparison of several. Thin views."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.analytics import compare_workflows, workflow_metrics
from workflows.models import Workflow


class MetricsQuerySerializer(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="First day (UTC), inclusive.")
    until = serializers.DateField(required=False, help_text="Last day (UTC), inclusive.")
    strategy = serializers.IntegerField(required=False, min_value=1, help_text="Only the runs of this strategy.")

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": "must not be before since"})
        return attrs


class CompareQuerySerializer(MetricsQuerySerializer):
    ids = serializers.CharField(help_text="Workflow ids, comma separated: ids=1,2")

    def validate_ids(self, value: str) -> list[int]:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not parts or not all(part.isdigit() for part in parts):
            raise serializers.ValidationError("a comma-separated list of workflow ids, e.g. 1,2")
        return list(dict.fromkeys(int(part) for part in parts))


def _visible_workflows(user):
    return Workflow.objects.filter(deleted_at__isnull=True).visible_to(user)


def _query(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


QUERY_PARAMETERS = [
    OpenApiParameter("since", str, description="YYYY-MM-DD (UTC), inclusive."),
    OpenApiParameter("until", str, description="YYYY-MM-DD (UTC), inclusive."),
    OpenApiParameter("strategy", int, description="Only the runs of this strategy."),
]


class WorkflowMetricsView(APIView):
    """GET /api/workflows/{id}/metrics/: executions, success rate, duration, decisions, orders, R, win rate."""

    @extend_schema(parameters=QUERY_PARAMETERS, responses=dict)
    def get(self, request, pk: int):
        workflow = get_object_or_404(_visible_workflows(request.user), pk=pk)
        query = _query(MetricsQuerySerializer, request)
        return Response(workflow_metrics(workflow, query.get("since"), query.get("until"), query.get("strategy")))


class WorkflowCompareView(APIView):
    """GET /api/workflows/compare/?ids=1,2: the workflows side by side, the best value of each metric marked."""

    @extend_schema(parameters=[OpenApiParameter("ids", str, required=True), *QUERY_PARAMETERS], responses=dict)
    def get(self, request):
        query = _query(CompareQuerySerializer, request)
        workflows = list(_visible_workflows(request.user).filter(pk__in=query["ids"]))
        if len(workflows) != len(query["ids"]):
            raise Http404("No such workflow")
        workflows.sort(key=lambda workflow: query["ids"].index(workflow.pk))
        return Response(compare_workflows(workflows, query.get("since"), query.get("until"), query.get("strategy")))
