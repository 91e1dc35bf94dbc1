"""The AI's records: model calls, agent templates, conversations and approvals."""

from django.conf import settings
from django.db import models


class LLMCall(models.Model):
    execution = models.ForeignKey(
        "execution.WorkflowExecution", null=True, blank=True, on_delete=models.CASCADE, related_name="llm_calls"
    )
    step_id = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=32, blank=True)
    agent_name = models.CharField(max_length=64, blank=True)
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=100)
    prompt = models.TextField()
    response = models.TextField(blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

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
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    model = models.CharField(max_length=100, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    stance = models.CharField(max_length=4, blank=True, help_text="BUY, SELL or HOLD the agent argued; empty: none.")
    confidence = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

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

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Approval for {self.decision} ({self.status})"

    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING
