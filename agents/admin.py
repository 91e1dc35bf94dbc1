from django import forms
from django.contrib import admin

from agents.models import (
    AgentMessage,
    AgentTemplate,
    ApprovalRequest,
    LLMCall,
    ModelAnswer,
    ModelPrice,
    ModelProvider,
)
from agents.providers import encrypt_api_key, reserved_provider_names, stored_api_key


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


def limit_field(name: str) -> forms.IntegerField:
    """A limit as staff type it: empty, or a whole number of at least 1 (the model field's form says 0)."""
    field = ModelProvider._meta.get_field(name)
    return forms.IntegerField(
        required=False, min_value=1, label=field.verbose_name.capitalize(), help_text=field.help_text
    )


class ModelProviderForm(forms.ModelForm):
    """The key is write-only: typed in, stored encrypted, never shown again (not even masked)."""

    max_in_flight = limit_field("max_in_flight")
    requests_per_minute = limit_field("requests_per_minute")
    tokens_per_minute = limit_field("tokens_per_minute")

    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted. Leave empty to keep the stored key; prefer an environment variable (above).",
    )
    clear_api_key = forms.BooleanField(required=False, help_text="Forget the stored key.")

    class Meta:
        model = ModelProvider
        fields = [
            "name",
            "base_url",
            "api_key_env",
            "allowed_models",
            "max_in_flight",
            "requests_per_minute",
            "tokens_per_minute",
        ]

    def clean_name(self):
        name = self.cleaned_data["name"]
        if name in reserved_provider_names():
            raise forms.ValidationError(f"{name!r} is reserved for the provider from settings or the offline analyst")
        return name

    def clean_allowed_models(self):
        allowed = self.cleaned_data["allowed_models"]
        if not isinstance(allowed, list) or not all(isinstance(model, str) and model.strip() for model in allowed):
            raise forms.ValidationError('must be a JSON list of model names, e.g. ["gpt-4o", "gpt-4o-mini"]')
        return [model.strip() for model in allowed]

    def save(self, commit=True):
        provider = super().save(commit=False)
        if self.cleaned_data.get("clear_api_key"):
            provider.api_key_encrypted = ""
        elif self.cleaned_data.get("api_key"):
            provider.api_key_encrypted = encrypt_api_key(self.cleaned_data["api_key"])
        if commit:
            provider.save()
        return provider


class ModelPriceInline(admin.TabularInline):
    model = ModelPrice
    extra = 1


@admin.register(ModelProvider)
class ModelProviderAdmin(admin.ModelAdmin):
    form = ModelProviderForm
    list_display = ("name", "base_url", "key", "allowed_models", "limits", "updated_at")
    search_fields = ("name", "base_url")
    readonly_fields = ("key",)
    inlines = [ModelPriceInline]

    @admin.display(description="key")
    def key(self, obj):
        """Where the key comes from and whether it is there; never any of its characters."""
        if obj.api_key_env:
            return f"from ${obj.api_key_env} ({'set' if stored_api_key(obj) else 'NOT SET'})"
        return "stored, encrypted" if obj.api_key_encrypted else "none"

    @admin.display(description="limits")
    def limits(self, obj):
        parts = [
            f"{obj.max_in_flight} in flight" if obj.max_in_flight else "",
            f"{obj.requests_per_minute} requests/min" if obj.requests_per_minute else "",
            f"{obj.tokens_per_minute} tokens/min" if obj.tokens_per_minute else "",
        ]
        return ", ".join(part for part in parts if part) or "none"


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """Prices per provider and model; a price without a provider is the default provider's (settings)."""

    list_display = ("model", "provider", "input_price", "output_price")
    list_filter = ("provider",)
    search_fields = ("model",)


@admin.register(ModelAnswer)
class ModelAnswerAdmin(ReadOnlyAdmin):
    list_display = ("key", "provider", "model", "tokens_in", "tokens_out", "cost", "created_at")
    list_filter = ("provider",)
    search_fields = ("key", "model")
