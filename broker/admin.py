"""Staff views of the account and the market: instruments, caches, orders, the risk caps and kill switch."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from broker.alerts import review_alerts
from broker.models import (
    Alert,
    Chart,
    Fill,
    Instrument,
    MarketData,
    Order,
    Position,
    RiskLimits,
    SimulatedAccount,
    SimulatedExecution,
    SimulatedOrder,
    SimulatedPosition,
    Trade,
)


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("symbol", "conid", "name", "exchange", "primary_exchange", "currency", "sec_type", "created_at")
    list_filter = ("sec_type", "currency", "exchange")
    search_fields = ("symbol", "name", "=conid")
    readonly_fields = ("created_at",)


@admin.register(MarketData)
class MarketDataAdmin(admin.ModelAdmin):
    list_display = ("instrument", "period", "bar", "bar_count", "fetched_at")
    list_filter = ("period", "bar")
    search_fields = ("instrument__symbol", "=conid")
    readonly_fields = ("instrument", "conid", "period", "bar", "fetched_at", "data")
    date_hierarchy = "fetched_at"

    @admin.display(description="bars")
    def bar_count(self, obj):
        return len(obj.data or [])


@admin.register(Chart)
class ChartAdmin(admin.ModelAdmin):
    list_display = ("instrument", "timeframe", "width", "height", "created_at", "short_hash")
    list_filter = ("period", "bar")
    search_fields = ("instrument__symbol", "sha256", "image")
    readonly_fields = ("created_at", "sha256", "preview")
    date_hierarchy = "created_at"

    @admin.display(description="sha256")
    def short_hash(self, obj):
        return obj.sha256[:12]

    @admin.display(description="image")
    def preview(self, obj):
        if not obj.image:
            return "-"
        return format_html('<a href="{0}"><img src="{0}" style="max-width: 640px"></a>', obj.image_url())


@admin.register(RiskLimits)
class RiskLimitsAdmin(admin.ModelAdmin):
    """One row of global caps; the list view goes straight to it."""

    list_display = ("__str__", "kill_switch", "risk_per_trade", "max_position_pct", "max_exposure_pct", "updated_at")
    readonly_fields = ("updated_at", "updated_by")
    fieldsets = (
        ("Kill switch", {"fields": ("kill_switch", "kill_switch_reason")}),
        (
            "Caps no workflow or strategy can loosen",
            {
                "fields": (
                    "risk_per_trade",
                    "max_position_pct",
                    "max_exposure_pct",
                    "max_open_positions",
                    "min_r_coefficient",
                    "max_price_deviation",
                    "pause_after_losses",
                )
            },
        ),
        ("Audit", {"fields": ("updated_at", "updated_by")}),
    )

    def has_add_permission(self, request):
        return not RiskLimits.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        limits = RiskLimits.current()
        return HttpResponseRedirect(reverse("admin:broker_risklimits_change", args=[limits.pk]))

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


class FillInline(admin.TabularInline):
    model = Fill
    extra = 0
    can_delete = False
    readonly_fields = ("exec_id", "quantity", "price", "commission", "filled_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "owner",
        "instrument",
        "side",
        "quantity",
        "order_type",
        "limit_price",
        "stop_price",
        "parent",
        "tif",
        "status",
        "filled_quantity",
        "avg_fill_price",
        "paper",
        "created_at",
    )
    list_filter = ("status", "side", "order_type", "tif", "paper", "created_at")
    search_fields = ("instrument__symbol", "broker_order_id", "idempotency_key", "owner__username")
    readonly_fields = (
        "idempotency_key",
        "broker_order_id",
        "filled_quantity",
        "avg_fill_price",
        "commission",
        "status_message",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("decision", "execution", "strategy", "parent", "instrument", "owner")
    date_hierarchy = "created_at"
    inlines = [FillInline]


@admin.register(Fill)
class FillAdmin(admin.ModelAdmin):
    list_display = ("exec_id", "order", "quantity", "price", "commission", "filled_at")
    search_fields = ("exec_id", "order__instrument__symbol", "order__broker_order_id")
    readonly_fields = ("order", "exec_id", "quantity", "price", "commission", "filled_at")
    date_hierarchy = "filled_at"


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin):
    list_display = (
        "instrument",
        "owner",
        "direction",
        "quantity",
        "entry_price",
        "entry_at",
        "exit_price",
        "exit_at",
        "realized_pnl",
    )
    list_filter = ("direction", "entry_at", "exit_at")
    search_fields = ("instrument__symbol", "owner__username")
    raw_id_fields = ("instrument", "owner", "strategy", "decision")
    date_hierarchy = "entry_at"


@admin.register(Position)
class PositionAdmin(admin.ModelAdmin):
    list_display = (
        "instrument",
        "owner",
        "quantity",
        "average_cost",
        "current_price",
        "unrealized_pnl",
        "stop_price",
        "needs_review",
        "updated_at",
    )
    list_filter = ("needs_review",)
    search_fields = ("instrument__symbol", "owner__username")
    readonly_fields = ("updated_at",)
    raw_id_fields = ("instrument", "owner", "strategy")


@admin.register(SimulatedAccount)
class SimulatedAccountAdmin(admin.ModelAdmin):
    list_display = ("account_id", "cash", "starting_cash", "realized_pnl", "commissions", "currency", "updated_at")
    readonly_fields = ("created_at", "updated_at", "realized_pnl", "commissions")
    search_fields = ("account_id",)


class SimulatedExecutionInline(admin.TabularInline):
    model = SimulatedExecution
    extra = 0
    can_delete = False
    readonly_fields = ("exec_id", "quantity", "price", "commission", "executed_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SimulatedOrder)
class SimulatedOrderAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "symbol",
        "side",
        "quantity",
        "order_type",
        "limit_price",
        "stop_price",
        "tif",
        "status",
        "filled_quantity",
        "avg_fill_price",
        "order_ref",
        "placed_at",
    )
    list_filter = ("status", "side", "order_type", "tif", "active")
    search_fields = ("symbol", "order_ref", "=id")
    readonly_fields = ("placed_at", "updated_at", "filled_quantity", "avg_fill_price", "commission", "next_bar_at")
    date_hierarchy = "placed_at"
    inlines = [SimulatedExecutionInline]


@admin.register(SimulatedExecution)
class SimulatedExecutionAdmin(admin.ModelAdmin):
    list_display = ("exec_id", "order", "quantity", "price", "commission", "executed_at")
    search_fields = ("exec_id", "order__symbol", "order__order_ref")
    readonly_fields = ("order", "exec_id", "quantity", "price", "commission", "executed_at")


@admin.register(SimulatedPosition)
class SimulatedPositionAdmin(admin.ModelAdmin):
    list_display = ("symbol", "conid", "quantity", "average_cost", "account", "updated_at")
    search_fields = ("symbol", "=conid")
    readonly_fields = ("updated_at",)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "severity", "owner", "strategy", "short_message", "reviewed", "reviewed_by")
    list_filter = ("kind", "severity", "reviewed", "created_at")
    search_fields = ("message", "key", "owner__username", "strategy__name")
    readonly_fields = ("kind", "severity", "owner", "strategy", "message", "data", "key", "created_at", "reviewed_at")
    raw_id_fields = ("reviewed_by",)
    date_hierarchy = "created_at"
    list_select_related = ("owner", "strategy", "reviewed_by")
    actions = ["mark_reviewed"]

    @admin.display(description="message")
    def short_message(self, obj):
        return obj.message[:100]

    @admin.action(description="Mark the selected alerts reviewed")
    def mark_reviewed(self, request, queryset):
        count = review_alerts(queryset, request.user)
        self.message_user(request, f"{count} alert(s) marked reviewed.")
