"""The AI's records: model calls, agent templates, conversations and approvals."""

from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from tradingweb.access import owned_through


class LLMCall(models.Model):
    execution = models.ForeignKey(
        "execution.WorkflowExecution", null=True, blank=True, on_delete=models.CASCADE, related_name="llm_calls"
    )
    step_id = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=32, blank=True)
    agent_name = models.CharField(max_length=64, blank=True)
    provider = models.CharField(max_length=64)
    model = models.CharField(max_length=100)
    prompt = models.TextField()
    response = models.TextField(blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True, default=0, help_text="Empty: the model has no price."
    )
    latency_ms = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = owned_through("execution__owner").as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "LLM call"

    def __str__(self):
        return f"{self.model} {self.step_id} ({self.tokens_in}+{self.tokens_out} tokens)"


class AgentTemplate(models.Model):
    name = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    default_prompt = models.TextField()
    recommended_model = models.CharField(max_length=100, blank=True)
    tools = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self):
        return self.name


class AgentMessage(models.Model):
    """One message of an agent team's conversation (the spec's agent_conversations)."""

    class MessageType(models.TextChoices):
        TEXT = "text"
        TOOL_CALL = "tool_call"
        TOOL_RESULT = "tool_result"
        CODE = "code"
        DECISION = "decision"
        SYSTEM = "system"
        ERROR = "error"

    execution = models.ForeignKey(
        "execution.WorkflowExecution", on_delete=models.CASCADE, related_name="agent_messages"
    )
    symbol = models.CharField(max_length=32)
    round = models.PositiveIntegerField(default=0)
    agent_name = models.CharField(max_length=64, db_index=True)
    message_type = models.CharField(max_length=12, choices=MessageType.choices, default=MessageType.TEXT)
    content = models.TextField()
    tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True, default=0, help_text="Empty: the model has no price."
    )
    model = models.CharField(max_length=100, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    stance = models.CharField(max_length=4, blank=True, help_text="BUY, SELL or HOLD the agent argued; empty: none.")
    confidence = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = owned_through("execution__owner").as_manager()

    class Meta:
        ordering = ["execution", "id"]
        indexes = [models.Index(fields=["execution", "symbol", "id"], name="agentmessage_execution_idx")]

    def __str__(self):
        return f"{self.agent_name}: {self.content[:40]}"


class ApprovalRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        MODIFIED = "modified"
        EXPIRED = "expired"

    execution = models.ForeignKey(
        "execution.WorkflowExecution", on_delete=models.CASCADE, related_name="approval_requests"
    )
    decision = models.ForeignKey("execution.Decision", on_delete=models.CASCADE, related_name="approval_requests")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    deadline = models.DateTimeField()
    responder = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    objects = owned_through("execution__owner").as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Approval for {self.decision} ({self.status})"

    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


def validate_endpoint_url(value: str) -> None:
    """An http(s) URL with a host; bare service names (http://vllm:8000/v1) are fine, unlike URLField's rule."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValidationError(f"must be an http(s) URL with a host, got {value!r}")


class ModelProvider(models.Model):
    """An OpenAI-compatible endpoint staff allow traders to use; its key is sent to its base URL only.

    The key comes from the environment variable `api_key_env` or from `api_key_encrypted` (Fernet,
    keyed from SECRET_KEY; see agents.providers). Neither is ever shown in the admin or the API.
    """

    name = models.CharField(max_length=64, unique=True, help_text="What traders pick in their configs.")
    base_url = models.CharField(
        max_length=500,
        validators=[validate_endpoint_url],
        help_text="The OpenAI-compatible API root, e.g. https://api.openai.com/v1 or http://vllm:8000/v1",
    )
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text="Name of the environment variable holding the key (preferred)."
    )
    api_key_encrypted = models.TextField(blank=True, editable=False)
    allowed_models = models.JSONField(
        default=list, blank=True, help_text='Model names traders may pick, e.g. ["gpt-4o", "gpt-4o-mini"].'
    )
    # Kept by all workers together (agents.limits); set them a little under the provider's own limits.
    max_in_flight = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Requests at once. Empty: no limit."
    )
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Empty: no limit."
    )
    tokens_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Prompt and answer tokens a minute (a call counts its max tokens until it is answered). "
        "Empty: no limit.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ModelPrice(models.Model):
    """USD per million tokens for one model of a provider; a model without a price costs "unknown".

    Without a provider the price is for the default provider from settings, overriding LLM_PRICES.
    """

    provider = models.ForeignKey(
        ModelProvider,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="prices",
        help_text="Empty: the default provider (LLM_BASE_URL in settings).",
    )
    model = models.CharField(max_length=100, help_text="A model name; dated variants (gpt-4o-2024-08-06) use it too.")
    input_price = models.DecimalField(max_digits=12, decimal_places=4, help_text="USD per 1M prompt tokens.")
    output_price = models.DecimalField(max_digits=12, decimal_places=4, help_text="USD per 1M completion tokens.")

    class Meta:
        ordering = ["provider", "model"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model"], name="modelprice_provider_model_unique"),
            models.UniqueConstraint(
                fields=["model"], condition=models.Q(provider__isnull=True), name="modelprice_default_model_unique"
            ),
        ]

    def __str__(self):
        provider = self.provider or "default provider"
        return f"{provider} {self.model}: ${self.input_price} / ${self.output_price} per 1M tokens"


class BudgetLedger(models.Model):
    """A strategy's model spending of one UTC day: the row every budget check locks (see agents.calls).

    `reserved_*` is the worst case of calls in flight, so two runs at the same moment cannot both
    take the last of the budget.
    """

    strategy = models.ForeignKey("workflows.Strategy", on_delete=models.CASCADE, related_name="budget_ledgers")
    day = models.DateField()
    tokens_spent = models.PositiveBigIntegerField(default=0)
    cost_spent = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    tokens_reserved = models.PositiveBigIntegerField(default=0)
    cost_reserved = models.DecimalField(max_digits=14, decimal_places=6, default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["strategy", "day"], name="budgetledger_strategy_day_unique")]

    def __str__(self):
        return f"{self.strategy_id} {self.day}: {self.tokens_spent} tokens, ${self.cost_spent}"


class ModelAnswer(models.Model):
    """A model's answer kept by the sha256 of its full input (provider, model, messages, images, settings), so a
    backtest rerun, or a second version sharing steps, pays nothing for an answer it already has."""

    key = models.CharField(max_length=64, unique=True)
    provider = models.CharField(max_length=64)
    model = models.CharField(max_length=128)
    response = models.TextField()
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(null=True, blank=True, max_digits=14, decimal_places=6)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.provider} {self.model} answer {self.key[:12]}"
