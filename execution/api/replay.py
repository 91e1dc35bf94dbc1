"""POST /api/workflow-executions/{id}/replay/ {mode: "stored" | "model"}: replay a finished execution.

"stored" answers 201 with the full report (the replay runs at once: no model, no chart rendering);
"model" answers 202 with the replay's id and task id (the report lands in the replay's
results["replay"]). Others' executions answer 404, an unfinished one 409.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from execution.models import WorkflowExecution
from execution.replay import MODEL, MODES, ReplayConflict, execution_replay
from tradingweb.access import visible_or_404


class ReplayRequestSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=MODES)


class DecisionDiffSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    step_id = serializers.CharField()
    original = serializers.DictField(allow_null=True)
    replayed = serializers.DictField(allow_null=True)
    changed = serializers.ListField(child=serializers.CharField())
    error = serializers.CharField(allow_blank=True)


class ReplayReportSerializer(serializers.Serializer):
    replay_execution_id = serializers.IntegerField()
    original_execution_id = serializers.IntegerField()
    mode = serializers.CharField()
    status = serializers.CharField()
    task_id = serializers.CharField(allow_blank=True)
    identical = serializers.BooleanField(allow_null=True)
    decisions = DecisionDiffSerializer(many=True)
    notes = serializers.ListField(child=serializers.CharField())


class ExecutionReplayView(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "execute"

    @extend_schema(
        request=ReplayRequestSerializer, responses={201: ReplayReportSerializer, 202: ReplayReportSerializer}
    )
    def post(self, request, pk: int):
        execution = visible_or_404(request.user, WorkflowExecution.objects.all(), pk=pk)
        serializer = ReplayRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mode = serializer.validated_data["mode"]
        try:
            report = execution_replay(execution=execution, mode=mode, user=request.user)
        except ReplayConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        answer = status.HTTP_202_ACCEPTED if mode == MODEL else status.HTTP_201_CREATED
        return Response(ReplayReportSerializer(report.as_dict()).data, status=answer)
