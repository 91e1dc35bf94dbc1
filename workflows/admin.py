from django.contrib import admin

from workflows.models import Strategy, Workflow, WorkflowVersion


class WorkflowVersionInline(admin.TabularInline):
    """Versions are history: shown, never edited here (a change is a new version made by the services)."""

    model = WorkflowVersion
    fields = ["number", "note", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-number"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "type", "status", "version_number", "is_template", "deleted_at", "updated_at"]
    list_filter = ["type", "status", "is_template", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "description", "owner__username"]
    list_select_related = ["owner", "current_version"]
    # Steps and parameters change only through new versions, so they are read-only here.
    readonly_fields = ["current_version", "parameters", "imported_from", "created_at", "updated_at"]
    inlines = [WorkflowVersionInline]

    @admin.display(description="version")
    def version_number(self, workflow):
        return workflow.version_number


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    list_display = ["workflow", "number", "note", "created_by", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["workflow__name", "note"]
    list_select_related = ["workflow", "created_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    list_display = [
        "name", "owner", "workflow", "active", "human_approval", "allow_live", "paused_reason", "updated_at"
    ]
    list_filter = ["active", "human_approval", "allow_live"]
    search_fields = ["name", "description", "owner__username", "workflow__name", "instruments__symbol"]
    list_select_related = ["owner", "workflow"]
    filter_horizontal = ["instruments"]
    readonly_fields = ["created_at", "updated_at"]
