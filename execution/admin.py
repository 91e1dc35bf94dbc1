from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from execution.models import (
    Backtest,
    BacktestDecision,
    BacktestPoint,
    Decision,
    Notification,
    NotificationDelivery,
    NotificationPreference,
    Schedule,
    StepRun,
    WorkflowExecution,
    WorkflowMetrics,
)
from execution.schedules import describe_cron, parse_cron, schedule_delete, schedule_sync

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
        "detail",
        "attempt",
        "interruptions",
        "lease_expires_at",
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
    readonly_fields = STEP_RUN_FIELDS + ("detail", "execution")  # the traceback: on the step run's own page

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


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = (
            "owner",
            "workflow",
            "strategy",
            "cron_expression",
            "description",
            "enabled",
            "allow_overlap",
            "market_hours_only",
            "priority",
        )

    def clean_cron_expression(self):
        try:
            return " ".join(parse_cron(self.cleaned_data["cron_expression"]))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["cron_expression"]) from exc


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    """Edits keep the schedule's beat entry (PeriodicTask) in step through schedules.schedule_sync."""

    form = ScheduleForm
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
    raw_id_fields = ("workflow", "strategy", "owner")
    readonly_fields = ("periodic_task", "cron_description", "last_run_at")

    @admin.display(description="runs")
    def cron_description(self, obj):
        return describe_cron(obj.cron_expression) if obj.cron_expression else ""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        schedule_sync(obj)

    def delete_model(self, request, obj):
        schedule_delete(obj)

    def delete_queryset(self, request, queryset):
        for schedule in queryset:
            schedule_delete(schedule)


@admin.register(WorkflowMetrics)
class WorkflowMetricsAdmin(admin.ModelAdmin):
    list_display = ("workflow", "date")
    list_filter = ("date",)
    search_fields = ("workflow__name",)
    date_hierarchy = "date"
    list_select_related = ("workflow",)


class NotificationDeliveryInline(admin.TabularInline):
    model = NotificationDelivery
    fields = ("channel", "status", "attempts", "response_code", "error", "created_at", "delivered_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "owner", "kind", "title", "read_at")
    list_filter = ("kind", "created_at", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "body", "owner__username")
    readonly_fields = ("owner", "kind", "title", "body", "data", "created_at", "read_at")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    inlines = [NotificationDeliveryInline]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("owner", "email_enabled", "has_webhook", "kinds", "updated_at")
    list_filter = ("email_enabled",)
    search_fields = ("owner__username",)
    # The webhook URL may carry a token (Slack, Telegram): staff see whether one is set, not the URL.
    exclude = ("webhook_url",)
    readonly_fields = ("owner", "has_webhook", "updated_at")

    @admin.display(boolean=True, description="webhook")
    def has_webhook(self, obj):
        return bool(obj.webhook_url)


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "notification", "channel", "status", "attempts", "response_code", "delivered_at")
    list_filter = ("channel", "status", "created_at")
    search_fields = ("notification__title", "notification__owner__username", "error")
    readonly_fields = (
        "notification", "channel", "status", "attempts", "response_code", "error", "created_at", "delivered_at",
    )  # fmt: skip


class BacktestPointInline(admin.TabularInline):
    model = BacktestPoint
    extra = 0
    can_delete = False
    fields = ("point", "equity", "open_positions")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class BacktestDecisionInline(admin.TabularInline):
    model = BacktestDecision
    extra = 0
    can_delete = False
    fields = ("point", "symbol", "type", "status", "reference_price", "quantity", "order_id", "error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Backtest)
class BacktestAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "workflow", "version", "start", "end", "every", "status", "model_calls",
                    "cached_calls", "cost", "interruptions", "created_at")  # fmt: skip
    list_filter = ("status", "every")
    search_fields = ("workflow__name", "owner__username", "=id")
    readonly_fields = ("progress", "results", "estimated_cost", "cost", "model_calls", "cached_calls", "task_id",
                       "attempt", "interruptions", "lease_expires_at", "created_at", "started_at",
                       "completed_at")  # fmt: skip
    raw_id_fields = ("workflow", "version", "strategy", "owner")
    date_hierarchy = "created_at"
    inlines = [BacktestPointInline, BacktestDecisionInline]


@admin.register(BacktestDecision)
class BacktestDecisionAdmin(admin.ModelAdmin):
    list_display = ("backtest", "point", "symbol", "type", "status", "reference_price", "quantity", "order_id")
    list_filter = ("type", "status")
    search_fields = ("symbol", "=backtest__id")
    raw_id_fields = ("backtest",)


@admin.register(BacktestPoint)
class BacktestPointAdmin(admin.ModelAdmin):
    list_display = ("backtest", "point", "equity", "open_positions")
    search_fields = ("=backtest__id",)
    raw_id_fields = ("backtest",)
