"""The task API: follow and cancel the Celery tasks that run executions, and the queue's metrics."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.cancel import CancelConflict, execution_cancel
from execution.models import WorkflowExecution
from execution.queue_metrics import queue_metrics
from execution.queue_order import queue_rank
from execution.serializers.queue import TaskMetricsSerializer, TaskSerializer
from execution.task_status import (
    ACTIVE_STATUSES,
    CELERY_STATES,
    FINISHED_STATES,
    history_infos,
    task_history,
    task_info,
    task_state,
    with_retrying,
)
from tradingweb.access import sees_everything

ACTIVE_STATES = ("PENDING", "STARTED", "RETRY")
LIST_STATES = (*ACTIVE_STATES, *FINISHED_STATES, "FINISHED")


def _visible_executions(user):
    return WorkflowExecution.objects.exclude(task_id="").visible_to(user)


class TaskListView(APIView):
    """GET /api/tasks/: queued and running tasks, high priority first, oldest first.

    ?status=SUCCESS, FAILURE or REVOKED (or FINISHED, all three) lists the history instead,
    newest first, from the result store: a trader's own executions' tasks; staff see every task.
    """

    pagination_class = LimitOffsetPagination  # also tells the schema that the list is paginated

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=LIST_STATES),
            OpenApiParameter("strategy", OpenApiTypes.INT),
        ],
        responses=TaskSerializer(many=True),
    )
    def get(self, request):
        state = request.query_params.get("status", "").upper()
        if state and state not in LIST_STATES:
            raise serializers.ValidationError({"status": [f"must be one of {', '.join(LIST_STATES)}"]})
        executions = _visible_executions(request.user)
        strategy = request.query_params.get("strategy")
        if strategy:
            if not strategy.isdigit():
                raise serializers.ValidationError({"strategy": ["must be a strategy id"]})
            executions = executions.filter(strategy_id=int(strategy))
        paginator = self.pagination_class()
        if state in (*FINISHED_STATES, "FINISHED"):
            every_task = sees_everything(request.user) and not strategy
            history = task_history(executions, every_task=every_task, state="" if state == "FINISHED" else state)
            page = paginator.paginate_queryset(history, request, view=self)
            return paginator.get_paginated_response(TaskSerializer(history_infos(page), many=True).data)
        executions = with_retrying(executions.filter(status__in=ACTIVE_STATUSES))
        if state in ("PENDING", "STARTED"):
            executions = executions.filter(
                status__in=[name for name, celery_state in CELERY_STATES.items() if celery_state == state]
            )
        lane = queue_rank(settings.CELERY_TASK_QUEUES_BY_PRIORITY)
        rows = sorted(executions, key=lambda execution: (lane(execution.priority), execution.created_at))
        if state:
            rows = [execution for execution in rows if task_state(execution) == state]
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(TaskSerializer([task_info(row) for row in page], many=True).data)


class TaskDetailView(APIView):
    """GET /api/tasks/{task_id}/ (state, progress, result or error); DELETE cancels it."""

    def get_execution(self, request, task_id: str) -> WorkflowExecution:
        return get_object_or_404(_visible_executions(request.user), task_id=task_id)

    @extend_schema(responses=TaskSerializer)
    def get(self, request, task_id: str):
        return Response(TaskSerializer(task_info(self.get_execution(request, task_id))).data)

    @extend_schema(responses={200: TaskSerializer, 202: TaskSerializer, 409: OpenApiTypes.OBJECT})
    def delete(self, request, task_id: str):
        """A queued task is revoked at once (200, REVOKED); a running one stops at its next step (202)."""
        execution = self.get_execution(request, task_id)
        try:
            execution = execution_cancel(execution)
        except CancelConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        code = status.HTTP_200_OK if execution.is_finished() else status.HTTP_202_ACCEPTED
        return Response(TaskSerializer(task_info(execution)).data, status=code)


class TaskMetricsView(APIView):
    """GET /api/tasks/metrics/: queue lengths and workers (whole installation), counts (yours; staff: all)."""

    @extend_schema(responses=TaskMetricsSerializer)
    def get(self, request):
        return Response(TaskMetricsSerializer(queue_metrics(request.user)).data)
