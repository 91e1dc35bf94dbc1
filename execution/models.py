"""What happens when a workflow runs: executions, step runs, decisions, schedules, metrics."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from broker.marketdata import MarketReference
from tradingweb.access import VisibleToQuerySet, owned_through

PRICE = {"max_digits": 20, "decimal_places": 6}
RATIO = {"max_digits": 12, "decimal_places": 6}


class RunState:
    """What the worker running a row (an execution, a backtest) asks of it."""

    def is_finished(self) -> bool:
        return self.status in self.TERMINAL_STATUSES

    def cancel_was_requested(self) -> bool:
        """Asks the database, not this possibly stale row: the flag is set by another process."""
        return type(self)._default_manager.filter(pk=self.pk, cancel_requested=True).exists()


class WorkflowExecution(RunState, models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        AWAITING_APPROVAL = "awaiting_approval"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    TERMINAL_STATUSES = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    class Priority(models.TextChoices):
        HIGH = "high"
        NORMAL = "normal"
        LOW = "low"

    class Trigger(models.TextChoices):
        USER = "user"
        SCHEDULE = "schedule"
        API = "api"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="executions")
    workflow = models.ForeignKey(
        "workflows.Workflow", null=True, blank=True, on_delete=models.PROTECT, related_name="executions"
    )
    version = models.ForeignKey(
        "workflows.WorkflowVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="executions"
    )
    strategy = models.ForeignKey(
        "workflows.Strategy", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    schedule = models.ForeignKey(
        "Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    task_id = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    dry_run = models.BooleanField(default=False)
    symbols = models.JSONField(default=list)
    params = models.JSONField(default=dict, blank=True)
    progress = models.JSONField(default=dict, blank=True)
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # Staff only (admin, staff API, staff page): the traceback of an unexpected error; the owner sees `error`.
    detail = models.TextField(blank=True)
    triggered_by = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.USER)
    cancel_requested = models.BooleanField(default=False)
    attempt = models.PositiveIntegerField(default=0)
    # Until when the queue (once enqueued) or the worker running it (renewed while it runs) answers
    # for this execution; past it, the recovery sweep checks on it (execution.leases).
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    interruptions = models.PositiveIntegerField(default=0)  # runs whose worker was lost mid-run
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = VisibleToQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The list's pages, newest first, for one trader with or without a status filter (tradingweb.pagination).
            models.Index(fields=["owner", "-created_at", "-id"], name="execution_owner_created_idx"),
            models.Index(fields=["owner", "status", "-created_at", "-id"], name="execution_owner_status_idx"),
            models.Index(fields=["workflow", "-created_at"], name="execution_workflow_idx"),
        ]

    def __str__(self):
        return f"Execution {self.pk} ({self.status})"



class StepRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        SKIPPED = "skipped"
        CANCELLED = "cancelled"

    execution = models.ForeignKey(WorkflowExecution, on_delete=models.CASCADE, related_name="step_runs")
    symbol = models.CharField(max_length=32)
    index = models.PositiveIntegerField()
    step_id = models.CharField(max_length=64)
    step_type = models.CharField(max_length=32)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempt = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    output = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # Staff only (admin, staff API, staff page): the failure's full traceback; the owner sees the short `error`.
    detail = models.TextField(blank=True)

    objects = owned_through("execution__owner").as_manager()

    class Meta:
        ordering = ["execution", "id"]
        indexes = [models.Index(fields=["execution", "symbol", "index"], name="steprun_execution_idx")]

    def __str__(self):
        return f"{self.symbol} #{self.index} {self.step_id} ({self.status})"


class Decision(models.Model):
    class Type(models.TextChoices):
        BUY = "buy"
        SELL = "sell"
        HOLD = "hold"

    class Status(models.TextChoices):
        PROPOSED = "proposed"
        APPROVED = "approved"
        REJECTED = "rejected"
        EXECUTED = "executed"

    # The execution's (or, without one, the strategy's) owner, kept on the row so that a trader's list of
    # decisions is one index range instead of a join through executions and strategies; filled in by save().
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="decisions"
    )
    execution = models.ForeignKey(
        WorkflowExecution, null=True, blank=True, on_delete=models.CASCADE, related_name="decisions"
    )
    strategy = models.ForeignKey(
        "workflows.Strategy", null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    instrument = models.ForeignKey("broker.Instrument", on_delete=models.PROTECT, related_name="decisions")
    step_id = models.CharField(max_length=64, blank=True)
    type = models.CharField(max_length=4, choices=Type.choices)
    current_price = models.DecimalField(
        null=True, blank=True, help_text="The price the model wrote; kept for the record, never traded on.", **PRICE
    )
    # The market reference every order of the decision is computed from (DESIGN.md §5).
    reference_price = models.DecimalField(null=True, blank=True, **PRICE)
    reference_source = models.CharField(
        max_length=12, blank=True, help_text="quote_last, quote_mid or bars_close: where reference_price came from."
    )
    reference_time = models.DateTimeField(null=True, blank=True, help_text="When the market was at reference_price.")
    reference_market_data_type = models.CharField(
        max_length=12, blank=True, help_text="The broker's kind of quote (live, frozen, delayed), when it says."
    )
    target_price = models.DecimalField(null=True, blank=True, **PRICE)
    stop_loss = models.DecimalField(null=True, blank=True, **PRICE)
    quantity = models.DecimalField(null=True, blank=True, max_digits=20, decimal_places=4)
    profit_margin = models.DecimalField(null=True, blank=True, **RATIO)
    r_coefficient = models.DecimalField(null=True, blank=True, **RATIO)
    confidence = models.DecimalField(null=True, blank=True, max_digits=5, decimal_places=4)
    analysis_text = models.TextField(blank=True)
    key_factors = models.JSONField(default=list, blank=True)
    risk = models.JSONField(default=dict, blank=True, help_text="The risk arithmetic behind the verdict.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED, db_index=True)
    rejection_reasons = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = VisibleToQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="decision_owner_created_idx"),
            models.Index(fields=["instrument", "-created_at"], name="decision_instrument_idx"),
            models.Index(fields=["strategy", "-created_at"], name="decision_strategy_idx"),
            models.Index(fields=["-created_at"], name="decision_created_idx"),
        ]

    def __str__(self):
        return f"{self.type.upper()} {self.instrument.symbol} ({self.status})"

    def save(self, *args, **kwargs):
        if self.owner_id is None:
            self.owner_id = self.owner_of_run()
        super().save(*args, **kwargs)

    def owner_of_run(self) -> int | None:
        """The id of the trader whose execution (or strategy) made the decision."""
        if self.execution_id is not None:
            return self.execution.owner_id
        if self.strategy_id is not None:
            return self.strategy.owner_id
        return None

    def is_actionable(self) -> bool:
        return self.type != self.Type.HOLD and self.status == self.Status.APPROVED

    def market_reference(self) -> MarketReference | None:
        """The market reference recorded when the decision was made (None for a decision from before them)."""
        if self.reference_price is None or self.reference_time is None:
            return None
        return MarketReference(
            price=self.reference_price,
            source=self.reference_source,
            time=self.reference_time,
            market_data_type=self.reference_market_data_type,
        )

    def set_market_reference(self, reference: MarketReference) -> None:
        self.reference_price = reference.price
        self.reference_source = reference.source
        self.reference_time = reference.time
        self.reference_market_data_type = reference.market_data_type

    REFERENCE_FIELDS = ("reference_price", "reference_source", "reference_time", "reference_market_data_type")

    def reference_age_seconds(self, now=None) -> int | None:
        """How old the market reference is (None without one)."""
        if self.reference_time is None:
            return None
        return max(0, int(((now or timezone.now()) - self.reference_time).total_seconds()))


class Schedule(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedules")
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="schedules")
    strategy = models.ForeignKey("workflows.Strategy", on_delete=models.CASCADE, related_name="schedules")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cron_expression = models.CharField(max_length=120)
    description = models.CharField(max_length=255, blank=True)
    enabled = models.BooleanField(default=True)
    allow_overlap = models.BooleanField(default=False)
    market_hours_only = models.BooleanField(default=False)
    priority = models.CharField(
        max_length=8, choices=WorkflowExecution.Priority.choices, default=WorkflowExecution.Priority.NORMAL
    )
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = VisibleToQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.workflow} / {self.strategy} @ {self.cron_expression}"


class WorkflowMetrics(models.Model):
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="daily_metrics")
    date = models.DateField()
    metrics = models.JSONField(default=dict)

    class Meta:
        ordering = ["-date"]
        verbose_name_plural = "workflow metrics"
        constraints = [models.UniqueConstraint(fields=["workflow", "date"], name="unique_workflow_metrics_day")]

    def __str__(self):
        return f"{self.workflow} {self.date}"


class Notification(models.Model):
    """Something a trader is told of: shown in the app, and sent by email or webhook per their preferences."""

    class Kind(models.TextChoices):
        EXECUTION_FAILED = "execution_failed", "Execution failed"
        ORDER_REJECTED = "order_rejected", "Order rejected"
        ORDER_FAILED = "order_failed", "Order failed"
        ORDER_FILLED = "order_filled", "Order filled"
        APPROVAL_REQUESTED = "approval_requested", "Approval waiting"
        EXPOSURE = "exposure", "Exposure alert"
        LOSS_STREAK = "loss_streak", "Loss streak alert"
        STOP_BREACH = "stop_breach", "Stop breach alert"
        DISCREPANCY = "discrepancy", "Broker discrepancy alert"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24, choices=Kind.choices, db_index=True)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = VisibleToQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "read_at", "-created_at"], name="notification_owner_read_idx")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.title}"

    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """How one trader wants to be told beyond the app; `kinds` empty means every kind."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email_enabled = models.BooleanField(default=False)
    webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Receives a JSON POST {text, title, kind, data}."
    )
    kinds = models.JSONField(default=list, blank=True, help_text="Kinds sent by email/webhook; empty = all.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Notification preferences of {self.owner}"

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


class NotificationDelivery(models.Model):
    """One channel's delivery of a notification: the log of its attempts."""

    class Channel(models.TextChoices):
        EMAIL = "email"
        WEBHOOK = "webhook"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        DELIVERED = "delivered"
        FAILED = "failed"

    # A sender that claimed a delivery this long ago is presumed dead; the sweep takes it over.
    CLAIM_TIMEOUT = timedelta(minutes=10)

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "notification deliveries"

    def __str__(self):
        return f"{self.channel} of notification {self.notification_id} ({self.status})"


class Backtest(RunState, models.Model):
    """A walk-forward backtest of one pinned workflow version over a date range (execution/backtests/).

    Its ledger is its own simulated account (`ledger_account_id`), never shared with live trading or
    another backtest. `results` holds the report (equity curve, drawdown, figures, trades).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    TERMINAL_STATUSES = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtests")
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.PROTECT, related_name="backtests")
    version = models.ForeignKey("workflows.WorkflowVersion", on_delete=models.PROTECT, related_name="backtests")
    strategy = models.ForeignKey(
        "workflows.Strategy", null=True, blank=True, on_delete=models.SET_NULL, related_name="backtests"
    )
    symbols = models.JSONField(default=list)
    start = models.DateField()
    end = models.DateField()
    every = models.CharField(max_length=64, default="1d", help_text="1d, 1w or a cron expression (UTC).")
    model = models.CharField(
        max_length=128, blank=True, help_text="Replaces every model step's model; blank keeps the steps' own."
    )
    initial_cash = models.DecimalField(max_digits=20, decimal_places=2)
    commission = models.DecimalField(max_digits=12, decimal_places=6, help_text="Per share, in the account currency.")
    slippage_bps = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    task_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    # The worker running it holds a lease, as an execution's (execution.leases): a backtest whose lease ran out
    # lost its worker, and the recovery sweep sends it again to go on after its last stored point.
    attempt = models.PositiveIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    interruptions = models.PositiveIntegerField(default=0)  # runs whose worker was lost mid-run
    progress = models.JSONField(default=dict, blank=True)
    results = models.JSONField(default=dict, blank=True)
    estimated_cost = models.DecimalField(null=True, blank=True, max_digits=14, decimal_places=6)
    cost = models.DecimalField(null=True, blank=True, max_digits=14, decimal_places=6)
    model_calls = models.PositiveIntegerField(default=0)
    cached_calls = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = VisibleToQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workflow", "-created_at"], name="backtest_workflow_idx")]

    def __str__(self):
        return f"Backtest {self.pk} of {self.workflow_id} v{self.version.number} ({self.status})"

    @property
    def ledger_account_id(self) -> str:
        return f"BT{self.pk:010d}"



class BacktestPoint(models.Model):
    """A decision point a backtest has computed: the ledger at t, stored with that point's decisions and orders.

    A point is stored once (one transaction, under the run's lease), so a run taken over by another worker goes on
    after the last stored point and computes none twice.
    """

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="points")
    point = models.DateTimeField()
    equity = models.DecimalField(max_digits=20, decimal_places=2, help_text="The ledger at t, before t's orders.")
    open_positions = models.PositiveIntegerField()

    class Meta:
        ordering = ["backtest", "point"]
        constraints = [models.UniqueConstraint(fields=["backtest", "point"], name="backtestpoint_once")]

    def __str__(self):
        return f"Backtest {self.backtest_id} at {self.point:%Y-%m-%d %H:%M}"


class BacktestDecision(models.Model):
    """What the pinned steps decided for one symbol at one decision point of a backtest (never a live Decision)."""

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="decisions")
    point = models.DateTimeField(help_text="The decision point t: the steps saw bars completed by then only.")
    symbol = models.CharField(max_length=32)
    type = models.CharField(max_length=4, choices=Decision.Type.choices)
    status = models.CharField(max_length=10, choices=Decision.Status.choices)
    reference_price = models.DecimalField(null=True, blank=True, **PRICE)
    target_price = models.DecimalField(null=True, blank=True, **PRICE)
    stop_loss = models.DecimalField(null=True, blank=True, **PRICE)
    quantity = models.DecimalField(null=True, blank=True, max_digits=20, decimal_places=4)
    confidence = models.DecimalField(null=True, blank=True, max_digits=5, decimal_places=4)
    r_coefficient = models.DecimalField(null=True, blank=True, **RATIO)
    analysis_text = models.TextField(blank=True)
    rejection_reasons = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    order_id = models.CharField(max_length=32, blank=True, help_text="The order on the backtest's own ledger.")

    objects = owned_through("backtest__owner").as_manager()

    class Meta:
        ordering = ["backtest", "point", "symbol"]
        indexes = [models.Index(fields=["backtest", "point"], name="backtestdecision_point_idx")]

    def __str__(self):
        return f"{self.type.upper()} {self.symbol} at {self.point:%Y-%m-%d %H:%M} (backtest {self.backtest_id})"
