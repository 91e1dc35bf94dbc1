from django.contrib import admin

from agents.models import AgentMessage, AgentTemplate, ApprovalRequest, LLMCall


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: browsable and searchable, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LLMCall)
class LLMCallAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "model",
        "provider",
        "execution",
        "step_id",
        "symbol",
        "agent_name",
        "tokens_in",
        "tokens_out",
        "cost",
        "latency_ms",
        "attempt",
        "failed",
    )
    list_filter = ("provider", "model", "created_at", ("error", admin.EmptyFieldListFilter))
    search_fields = ("symbol", "step_id", "agent_name", "model", "error")
    date_hierarchy = "created_at"
    list_select_related = ("execution",)

    @admin.display(boolean=True, description="failed")
    def failed(self, obj):
        return bool(obj.error)


@admin.register(AgentMessage)
class AgentMessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "execution", "symbol", "round", "agent_name", "message_type", "tokens", "cost")
    list_filter = ("message_type", "agent_name")
    search_fields = ("symbol", "agent_name", "content")
    list_select_related = ("execution",)


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    list_display = ("created_at", "execution", "decision", "status", "deadline", "responder", "responded_at")
    list_filter = ("status",)
    raw_id_fields = ("execution", "decision", "responder")
    list_select_related = ("execution", "decision__instrument", "responder")


@admin.register(AgentTemplate)
class AgentTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "order", "required", "recommended_model")
    list_editable = ("order",)
    search_fields = ("name", "description")
