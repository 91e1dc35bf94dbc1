from django.contrib import admin

from execution.models import Decision, Schedule, StepRun, WorkflowExecution, WorkflowMetrics

STEP_RUN_FIELDS = (
    "symbol",
    "index",
    "step_id",
    "step_type",
    "status",
    "attempt",
    "started_at",
    "finished_at",
    "duration_ms",
    "error",
    "output",
)


class StepRunInline(admin.TabularInline):
    model = StepRun
    fields = STEP_RUN_FIELDS
    readonly_fields = STEP_RUN_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WorkflowExecution)
class WorkflowExecutionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "workflow",
        "strategy",
        "owner",
        "status",
        "priority",
        "dry_run",
        "triggered_by",
        "symbol_list",
        "created_at",
        "started_at",
        "completed_at",
    )
    list_filter = ("status", "priority", "dry_run", "triggered_by", "created_at")
    search_fields = ("id", "task_id", "workflow__name", "strategy__name", "owner__username", "error")
    date_hierarchy = "created_at"
    list_select_related = ("workflow", "strategy", "owner")
    readonly_fields = (
        "task_id",
        "version",
        "progress",
        "results",
        "attempt",
        "created_at",
        "started_at",
        "completed_at",
    )
    raw_id_fields = ("workflow", "strategy", "schedule", "owner")
    inlines = [StepRunInline]

    @admin.display(description="symbols")
    def symbol_list(self, obj):
        return ", ".join(obj.symbols or [])


@admin.register(StepRun)
class StepRunAdmin(admin.ModelAdmin):
    list_display = (
        "execution",
        "symbol",
        "index",
        "step_id",
        "step_type",
        "status",
        "attempt",
        "duration_ms",
        "started_at",
    )
    list_filter = ("status", "step_type", "started_at")
    search_fields = ("symbol", "step_id", "error", "execution__id")
    list_select_related = ("execution",)
    readonly_fields = STEP_RUN_FIELDS + ("execution",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "instrument",
        "type",
        "status",
        "current_price",
        "target_price",
        "stop_loss",
        "r_coefficient",
        "confidence",
        "strategy",
        "execution",
        "created_at",
    )
    list_filter = ("type", "status", "created_at")
    search_fields = ("instrument__symbol", "analysis_text", "strategy__name", "execution__id")
    date_hierarchy = "created_at"
    list_select_related = ("instrument", "strategy", "execution")
    raw_id_fields = ("execution", "strategy", "instrument")


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "workflow",
        "strategy",
        "owner",
        "cron_expression",
        "enabled",
        "allow_overlap",
        "priority",
        "last_run_at",
    )
    list_filter = ("enabled", "allow_overlap", "priority", "market_hours_only")
    search_fields = ("description", "cron_expression", "workflow__name", "strategy__name", "owner__username")
    list_select_related = ("workflow", "strategy", "owner")
    raw_id_fields = ("workflow", "strategy", "owner", "periodic_task")


@admin.register(WorkflowMetrics)
class WorkflowMetricsAdmin(admin.ModelAdmin):
    list_display = ("workflow", "date")
    list_filter = ("date",)
    search_fields = ("workflow__name",)
    date_hierarchy = "date"
    list_select_related = ("workflow",)
