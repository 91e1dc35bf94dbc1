"""Input and output shapes of the task, batch and schedule APIs (field names per DESIGN.md §10)."""

from rest_framework import serializers

from execution.models import Schedule, WorkflowExecution
from execution.schedules import describe_cron, schedule_next_runs
from execution.serializers.executions import ExecuteRequestSerializer

MAX_BATCH_SIZE = 100


class ExecuteBatchItemSerializer(ExecuteRequestSerializer):
    workflow_id = serializers.IntegerField(min_value=1, required=False)


def execute_batch_serializer(data) -> serializers.ListSerializer:
    """A non-empty list of at most MAX_BATCH_SIZE execute requests."""
    return ExecuteBatchItemSerializer(data=data, many=True, allow_empty=False, max_length=MAX_BATCH_SIZE)


class TaskProgressSerializer(serializers.Serializer):
    current_step = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    current_symbol = serializers.CharField()
    completed_symbols = serializers.IntegerField()


class TaskSerializer(serializers.Serializer):
    """A task: a queued or running one from its execution, a finished one from the result store
    (then task_name and worker say what ran where, and the execution fields are null for a task
    that ran no execution, such as a maintenance job)."""

    task_id = serializers.CharField()
    task_name = serializers.CharField(required=False)
    worker = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=["PENDING", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED"])
    execution_id = serializers.IntegerField(allow_null=True)
    execution_status = serializers.CharField(allow_null=True)
    priority = serializers.CharField(allow_null=True)
    strategy = serializers.IntegerField(allow_null=True)
    workflow = serializers.IntegerField(allow_null=True)
    progress = TaskProgressSerializer()
    result = serializers.JSONField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)


class QueuedCountsSerializer(serializers.Serializer):
    high = serializers.IntegerField()
    normal = serializers.IntegerField()
    low = serializers.IntegerField()


class TaskMetricsSerializer(serializers.Serializer):
    tasks_queued = QueuedCountsSerializer()
    tasks_active = serializers.IntegerField()
    tasks_completed_today = serializers.IntegerField()
    tasks_failed_today = serializers.IntegerField()
    average_duration = serializers.FloatField(allow_null=True, help_text="Seconds, completed today")
    worker_count = serializers.IntegerField()


class ScheduleWriteSerializer(serializers.Serializer):
    cron_expression = serializers.CharField(max_length=120)
    strategy_id = serializers.IntegerField(min_value=1)
    enabled = serializers.BooleanField(default=True)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    allow_overlap = serializers.BooleanField(default=False)
    market_hours_only = serializers.BooleanField(default=False)
    priority = serializers.ChoiceField(
        choices=WorkflowExecution.Priority.choices, default=WorkflowExecution.Priority.NORMAL
    )


class ScheduleSerializer(serializers.ModelSerializer):
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    strategy_name = serializers.CharField(source="strategy.name", read_only=True)
    cron_description = serializers.SerializerMethodField()
    next_run_time = serializers.SerializerMethodField()
    next_runs = serializers.SerializerMethodField()
    last_run_time = serializers.DateTimeField(source="last_run_at", read_only=True, allow_null=True)

    class Meta:
        model = Schedule
        fields = [
            "id",
            "workflow",
            "workflow_name",
            "strategy",
            "strategy_name",
            "cron_expression",
            "cron_description",
            "enabled",
            "description",
            "allow_overlap",
            "market_hours_only",
            "priority",
            "next_run_time",
            "next_runs",
            "last_run_time",
            "created_at",
        ]
        read_only_fields = fields

    def _next_runs(self, schedule) -> list:
        cache = self.context.setdefault("next_runs", {})
        if schedule.pk not in cache:
            cache[schedule.pk] = schedule_next_runs(schedule, 5)
        return cache[schedule.pk]

    def get_cron_description(self, schedule) -> str:
        return describe_cron(schedule.cron_expression)

    def get_next_run_time(self, schedule) -> str | None:
        runs = self._next_runs(schedule)
        return runs[0].isoformat() if runs else None

    def get_next_runs(self, schedule) -> list[str]:
        return [run.isoformat() for run in self._next_runs(schedule)]


class CronPreviewSerializer(serializers.Serializer):
    cron_expression = serializers.CharField()
    description = serializers.CharField()
    next_runs = serializers.ListField(child=serializers.DateTimeField())
