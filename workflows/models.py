"""What a workflow is: its versions, and the strategies that run it."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from tradingweb.access import VisibleToQuerySet, owned_through


class Workflow(models.Model):
    class Type(models.TextChoices):
        TWO_INDICATOR = "two_indicator", "2-Indicator Multi-Timeframe"
        THREE_INDICATOR = "three_indicator", "3-Indicator Multi-Timeframe"
        SINGLE_TIMEFRAME = "single_timeframe", "Single Timeframe"
        AUTOGEN_MULTI_AGENT = "autogen_multi_agent", "AutoGen Multi-Agent"
        CUSTOM = "custom", "Custom"

    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        ARCHIVED = "archived"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=32, choices=Type.choices, default=Type.CUSTOM)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    current_version = models.ForeignKey(
        "WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parameters = models.JSONField(default=list, blank=True, help_text="[{name, type, default, description}]")
    is_template = models.BooleanField(default=False)
    imported_from = models.CharField(max_length=255, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VisibleToQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            # The list's pages (tradingweb.pagination): a trader's workflows not deleted, last changed first.
            models.Index(
                fields=["owner", "-updated_at", "-id"],
                condition=models.Q(deleted_at__isnull=True),
                name="workflow_owner_updated_idx",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def steps(self) -> list:
        return self.current_version.steps if self.current_version else []

    @property
    def version_number(self) -> int | None:
        return self.current_version.number if self.current_version else None


class WorkflowVersion(models.Model):
    """An immutable snapshot of a workflow's steps and parameters."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    steps = models.JSONField(default=list)
    parameters = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = owned_through("workflow__owner").as_manager()

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="unique_workflow_version")]

    def __str__(self):
        return f"{self.workflow.name} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk and not self._state.adding:
            raise ValidationError("Workflow versions are immutable; save a new version instead.")
        super().save(*args, **kwargs)


class Strategy(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="strategies")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    workflow = models.ForeignKey(
        Workflow,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="strategies",
        help_text="Empty: the legacy 2-indicator flow from period_1/bar_1/period_2/bar_2 params.",
    )
    params = models.JSONField(default=dict, blank=True, help_text="Parameter overrides and autogen_config.")
    instruments = models.ManyToManyField("broker.Instrument", blank=True, related_name="strategies")
    active = models.BooleanField(default=True)
    human_approval = models.BooleanField(default=False)
    allow_live = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=255, blank=True)
    daily_token_budget = models.PositiveIntegerField(null=True, blank=True)
    daily_cost_budget = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VisibleToQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "strategies"

    def __str__(self):
        return self.name

    @property
    def symbols(self) -> list[str]:
        return [instrument.symbol for instrument in self.instruments.all()]
