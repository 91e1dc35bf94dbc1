"""POST /api/workflows/execute-batch/: several execute requests at once, all or nothing."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from execution.batch import BatchInvalid, execution_create_batch
from execution.models import WorkflowExecution
from execution.serializers.executions import ExecuteResponseSerializer
from execution.serializers.queue import ExecuteBatchItemSerializer, execute_batch_serializer


class ExecuteBatchView(APIView):
    """Each request becomes its own execution and task (they run concurrently); 202 with one entry per request.

    Invalid input answers 400 with `errors`, a list holding each request's field errors ({} for a valid one),
    and creates nothing.
    """

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "execute"

    @extend_schema(request=ExecuteBatchItemSerializer(many=True), responses={202: ExecuteResponseSerializer(many=True)})
    def post(self, request):
        serializer = execute_batch_serializer(request.data)
        if not serializer.is_valid():
            errors = serializer.errors
            if isinstance(errors, dict) and errors and all(str(key).isdigit() for key in errors):
                # DRF reports a list's item errors by index, for the failing items only.
                errors = [errors.get(str(index), errors.get(index, {})) for index in range(len(request.data))]
            return _invalid(errors)
        trigger = WorkflowExecution.Trigger.API if request.auth is not None else WorkflowExecution.Trigger.USER
        try:
            executions = execution_create_batch(
                owner=request.user, requests=serializer.validated_data, triggered_by=trigger
            )
        except BatchInvalid as exc:
            return _invalid(exc.errors)
        body = [{"workflow_execution_id": execution.pk, "task_id": execution.task_id} for execution in executions]
        return Response(ExecuteResponseSerializer(body, many=True).data, status=status.HTTP_202_ACCEPTED)


def _invalid(errors) -> Response:
    if isinstance(errors, dict):  # the body itself is wrong (not a list, empty, too long)
        return Response(errors, status=status.HTTP_400_BAD_REQUEST)
    failing = sum(1 for error in errors if error)
    return Response(
        {"detail": f"{failing} of {len(errors)} execute requests are invalid; nothing was started.", "errors": errors},
        status=status.HTTP_400_BAD_REQUEST,
    )
