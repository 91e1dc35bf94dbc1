"""The account and the market: instruments, cached bars, charts, orders, fills, trades, positions."""

from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import reverse

from broker.contract_value import contract_multiplier
from tradingweb.access import VisibleToQuerySet, owned_through

PRICE = {"max_digits": 20, "decimal_places": 6}
MONEY = {"max_digits": 20, "decimal_places": 4}
QUANTITY = {"max_digits": 20, "decimal_places": 4}
RATE = {"max_digits": 20, "decimal_places": 10}


class Instrument(models.Model):
    """A tradable contract (the spec's `code` table)."""

    symbol = models.CharField(max_length=32, db_index=True)
    conid = models.BigIntegerField(unique=True)
    exchange = models.CharField(max_length=32, default="SMART")
    primary_exchange = models.CharField(max_length=32, blank=True)
    currency = models.CharField(max_length=8, default="USD")
    sec_type = models.CharField(max_length=8, default="STK")
    multiplier = models.CharField(
        max_length=16, blank=True, help_text="IBKR's multiplier (50 for an E-mini); blank: 1."
    )
    expiry = models.CharField(
        max_length=8, blank=True, help_text="A future's lastTradeDateOrContractMonth (YYYYMMDD or YYYYMM)."
    )
    local_symbol = models.CharField(max_length=32, blank=True, help_text="IBKR's local symbol (EUR.USD, ESH4).")
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self):
        return f"{self.symbol} ({self.conid})"

    @property
    def price_multiplier(self) -> Decimal:
        """What one contract gains per point of price: IBKR's multiplier (50 for an E-mini), 1 for stocks and FX."""
        return contract_multiplier(self.multiplier)


class MarketData(models.Model):
    """Cached OHLCV bars for one (conid, period, bar)."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="market_data")
    conid = models.BigIntegerField()
    period = models.CharField(max_length=8)
    bar = models.CharField(max_length=8)
    data = models.JSONField(default=list, help_text="List of {t, o, h, l, c, v} bars, oldest first.")
    fetched_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "market data"
        constraints = [models.UniqueConstraint(fields=["conid", "period", "bar"], name="unique_market_data_key")]
        indexes = [models.Index(fields=["conid", "period", "bar"], name="market_data_key_idx")]

    def __str__(self):
        return f"{self.instrument.symbol} {self.period}/{self.bar}"


CHART_GRANT_SALT = "broker.chart-image-grant"
CHART_GRANT_SECONDS = 7 * 24 * 3600


class ChartQuerySet(VisibleToQuerySet):
    """Charts have no owner: a trader's are those of instruments their strategies, positions or orders touch."""

    def owned_by(self, owner):
        if owner is None:
            return self
        traded = Instrument.objects.filter(
            Q(strategies__owner=owner) | Q(positions__owner=owner) | Q(orders__owner=owner)
        ).values("pk")
        return self.filter(instrument__in=traded)


class Chart(models.Model):
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="charts")
    timeframe = models.CharField(max_length=32)
    period = models.CharField(max_length=8)
    bar = models.CharField(max_length=8)
    image = models.FileField(upload_to="charts/", max_length=255)
    width = models.PositiveIntegerField(default=1920)
    height = models.PositiveIntegerField(default=1080)
    sha256 = models.CharField(max_length=64, blank=True)
    # What the image shows, hashed (broker.charts.chart_content_key): a chart is drawn once per content.
    content_key = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ChartQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["instrument", "period", "bar", "-created_at"], name="chart_lookup_idx")]

    def __str__(self):
        return f"{self.instrument.symbol} {self.timeframe}"

    def image_url(self, grant_to=None) -> str:
        """Where a browser gets the image: the owner-checked view that streams it from the storage
        (tradingweb.views.chart_image), so charts need no public media URL on any storage.

        `grant_to` (a user) adds a signed grant for that user alone: the chart API hands out
        charts of any instrument, including ones the viewer's strategies and runs never touched.
        """
        url = reverse("chart-image", args=[self.pk])
        if grant_to is None:
            return url
        return f"{url}?grant={signing.dumps([self.pk, grant_to.pk], salt=CHART_GRANT_SALT)}"

    def granted_to(self, token: str, user) -> bool:
        try:
            return signing.loads(token, salt=CHART_GRANT_SALT, max_age=CHART_GRANT_SECONDS) == [self.pk, user.pk]
        except signing.BadSignature:
            return False


class RiskLimits(models.Model):
    """Global caps set by staff: no workflow or strategy can loosen them. One row."""

    risk_per_trade = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0.02"))
    max_position_pct = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0.20"))
    max_exposure_pct = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0.95"))
    max_open_positions = models.PositiveIntegerField(default=20)
    min_r_coefficient = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal("1.0"))
    max_price_deviation = models.DecimalField(
        max_digits=6,
        decimal_places=4,
        default=Decimal("0.01"),
        validators=[MinValueValidator(Decimal("0.0001")), MaxValueValidator(Decimal("1"))],
        help_text="Largest gap allowed between a model's price and the market's (0.01 = 1 %); beyond it the "
        "decision is rejected.",
    )
    kill_switch = models.BooleanField(default=False, help_text="Blocks every order at once.")
    kill_switch_reason = models.CharField(max_length=200, blank=True)
    pause_after_losses = models.BooleanField(
        default=False, help_text="Pause a strategy's automated orders after more than 3 consecutive losses."
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        verbose_name = "risk limits"
        verbose_name_plural = "risk limits"

    def __str__(self):
        return "Global risk limits" + (" (KILL SWITCH ON)" if self.kill_switch else "")

    @classmethod
    def current(cls) -> "RiskLimits":
        limits, _ = cls.objects.get_or_create(pk=1)
        return limits


class Order(models.Model):
    class Side(models.TextChoices):
        BUY = "BUY"
        SELL = "SELL"

    class Type(models.TextChoices):
        LIMIT = "LMT", "Limit"
        MARKET = "MKT", "Market"
        STOP = "STP", "Stop"  # only a bracket's stop-loss leg: a market order triggered at stop_price

    ENTRY_TYPES = (Type.LIMIT, Type.MARKET)  # what a trader or a workflow may enter

    class TimeInForce(models.TextChoices):
        DAY = "DAY"
        GTC = "GTC"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending submit"
        SUBMITTED = "submitted"
        PARTIALLY_FILLED = "partially_filled"
        FILLED = "filled"
        CANCELLED = "cancelled"
        REJECTED = "rejected"
        NEEDS_RECONCILIATION = "needs_reconciliation"

    OPEN_STATUSES = (Status.PENDING, Status.SUBMITTED, Status.PARTIALLY_FILLED, Status.NEEDS_RECONCILIATION)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
    # String references: broker imports no other app's code.
    decision = models.ForeignKey(
        "execution.Decision", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    execution = models.ForeignKey(
        "execution.WorkflowExecution", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    strategy = models.ForeignKey(
        "workflows.Strategy", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children", help_text="Bracket parent."
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="orders")
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.DecimalField(**QUANTITY)
    order_type = models.CharField(max_length=3, choices=Type.choices, default=Type.LIMIT)
    limit_price = models.DecimalField(null=True, blank=True, **PRICE)
    stop_price = models.DecimalField(null=True, blank=True, **PRICE)
    tif = models.CharField(max_length=3, choices=TimeInForce.choices, default=TimeInForce.DAY)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING, db_index=True)
    broker_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=128, unique=True)
    filled_quantity = models.DecimalField(default=Decimal("0"), **QUANTITY)
    avg_fill_price = models.DecimalField(null=True, blank=True, **PRICE)
    commission = models.DecimalField(default=Decimal("0"), **MONEY)
    paper = models.BooleanField(default=True)
    status_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VisibleToQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The list's pages, newest first, for one trader with or without a status filter (tradingweb.pagination).
            models.Index(fields=["owner", "-created_at", "-id"], name="order_owner_created_idx"),
            models.Index(fields=["owner", "status", "-created_at", "-id"], name="order_owner_status_idx"),
        ]

    def __str__(self):
        return f"{self.side} {self.quantity} {self.instrument.symbol} ({self.status})"

    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @classmethod
    def entry_type_choices(cls) -> list[tuple[str, str]]:
        return [(value, label) for value, label in cls.Type.choices if value in cls.ENTRY_TYPES]

    @property
    def price(self) -> Decimal | None:
        """The price the order works at: its limit, or a stop leg's trigger."""
        return self.stop_price if self.order_type == self.Type.STOP else self.limit_price

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity


class Fill(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fills")
    exec_id = models.CharField(max_length=64, unique=True)
    quantity = models.DecimalField(**QUANTITY)
    price = models.DecimalField(**PRICE)
    commission = models.DecimalField(default=Decimal("0"), **MONEY)
    filled_at = models.DateTimeField(db_index=True)

    objects = owned_through("order__owner").as_manager()

    class Meta:
        ordering = ["filled_at", "id"]

    def __str__(self):
        return f"{self.quantity} @ {self.price}"


class TradeQuerySet(VisibleToQuerySet):
    def in_account_currency(self, currency: str | None) -> "TradeQuerySet":
        """Annotate `account_pnl`: the realized P&L in the account's currency at the trade's own rate.

        A trade booked without a rate counts at 1 only when its instrument is in the account's
        `currency`; otherwise (or with no `currency` known) its account_pnl is None: unknown.
        """
        rate_field = models.DecimalField(**RATE)
        same_currency = (
            models.Case(
                models.When(instrument__currency=currency, then=models.Value(Decimal("1"))),
                default=models.Value(None),
                output_field=rate_field,
            )
            if currency
            else models.Value(None, output_field=rate_field)
        )
        return self.annotate(
            account_rate=Coalesce("exchange_rate", same_currency, output_field=rate_field),
            account_pnl=models.ExpressionWrapper(
                models.F("realized_pnl") * models.F("account_rate"), output_field=models.DecimalField(**MONEY)
            ),
        )

    def unconverted(self) -> "TradeQuerySet":
        """Of trades annotated by in_account_currency, those with P&L but no known rate."""
        return self.filter(account_rate__isnull=True, realized_pnl__isnull=False).exclude(realized_pnl=0)

    def converted(self) -> "TradeQuerySet":
        """Of trades annotated by in_account_currency, those whose P&L is known in the account's currency."""
        return self.exclude(pk__in=self.unconverted().values("pk"))


class Trade(models.Model):
    """A round trip: entry to exit of a long or short position.

    Its P&L is in the instrument's currency; `exchange_rate` is the broker's rate into the account's
    currency at the fill that last closed part of it (at its entry while nothing is closed), so its
    realized P&L in the account's currency stays what it was when it was realized.
    """

    class Direction(models.TextChoices):
        LONG = "long"
        SHORT = "short"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trades")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="trades")
    strategy = models.ForeignKey(
        "workflows.Strategy", null=True, blank=True, on_delete=models.SET_NULL, related_name="trades"
    )
    decision = models.ForeignKey(
        "execution.Decision", null=True, blank=True, on_delete=models.SET_NULL, related_name="trades"
    )
    direction = models.CharField(max_length=5, choices=Direction.choices)
    quantity = models.DecimalField(**QUANTITY)
    entry_price = models.DecimalField(**PRICE)
    entry_at = models.DateTimeField()
    exit_price = models.DecimalField(null=True, blank=True, **PRICE)
    exit_at = models.DateTimeField(null=True, blank=True, db_index=True)
    realized_pnl = models.DecimalField(null=True, blank=True, **MONEY)
    commission = models.DecimalField(default=Decimal("0"), **MONEY)
    closed_quantity = models.DecimalField(
        default=Decimal("0"), help_text="Quantity exited so far; exit_price averages these exits.", **QUANTITY
    )
    exchange_rate = models.DecimalField(
        null=True,
        blank=True,
        help_text="The broker's rate from the instrument's currency into the account's at the closing fill; "
        "empty: the broker gave none.",
        **RATE,
    )

    objects = TradeQuerySet.as_manager()

    class Meta:
        ordering = ["-entry_at"]

    def __str__(self):
        return f"{self.direction} {self.quantity} {self.instrument.symbol}"

    def is_closed(self) -> bool:
        return self.exit_at is not None


class Position(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="positions")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="positions")
    strategy = models.ForeignKey(
        "workflows.Strategy", null=True, blank=True, on_delete=models.SET_NULL, related_name="positions"
    )
    quantity = models.DecimalField(default=Decimal("0"), help_text="Negative when short.", **QUANTITY)
    average_cost = models.DecimalField(default=Decimal("0"), **PRICE)
    cost_basis = models.DecimalField(
        max_digits=30,
        decimal_places=10,
        default=Decimal("0"),
        help_text="Exact signed cost of the open quantity (negative when short); average_cost is cost_basis/quantity.",
    )
    current_price = models.DecimalField(null=True, blank=True, **PRICE)
    # The broker's kind of quote that set current_price: live, frozen, delayed, delayed_frozen ("" unknown).
    market_data_type = models.CharField(max_length=16, blank=True, default="")
    unrealized_pnl = models.DecimalField(default=Decimal("0"), **MONEY)
    stop_price = models.DecimalField(null=True, blank=True, **PRICE)
    needs_review = models.BooleanField(default=False, help_text="Differs from the broker's position.")
    review_note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VisibleToQuerySet.as_manager()

    class Meta:
        ordering = ["instrument__symbol"]
        constraints = [models.UniqueConstraint(fields=["owner", "instrument"], name="unique_position_per_owner")]

    def __str__(self):
        return f"{self.quantity} {self.instrument.symbol}"


class SimulatedAccount(models.Model):
    """The simulated exchange's account: cash lives here so every worker process sees the same book."""

    account_id = models.CharField(max_length=32, unique=True)
    currency = models.CharField(max_length=8, default="USD")
    starting_cash = models.DecimalField(**MONEY)
    cash = models.DecimalField(**MONEY)
    realized_pnl = models.DecimalField(default=Decimal("0"), **MONEY)
    commissions = models.DecimalField(default=Decimal("0"), **MONEY)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.account_id} cash {self.cash} {self.currency}"


class SimulatedOrder(models.Model):
    """An order resting on (or done at) the simulated exchange; its id is the broker order id."""

    class Type(models.TextChoices):
        LIMIT = "LMT", "Limit"
        MARKET = "MKT", "Market"
        STOP = "STP", "Stop"

    account = models.ForeignKey(SimulatedAccount, on_delete=models.CASCADE, related_name="orders")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children", help_text="Bracket parent."
    )
    order_ref = models.CharField(max_length=128, db_index=True)
    conid = models.BigIntegerField()
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=Order.Side.choices)
    quantity = models.DecimalField(**QUANTITY)
    order_type = models.CharField(max_length=3, choices=Type.choices)
    limit_price = models.DecimalField(null=True, blank=True, **PRICE)
    stop_price = models.DecimalField(null=True, blank=True, **PRICE)
    tif = models.CharField(max_length=3, choices=Order.TimeInForce.choices, default=Order.TimeInForce.DAY)
    status = models.CharField(max_length=24, choices=Order.Status.choices, default=Order.Status.SUBMITTED)
    active = models.BooleanField(default=True, help_text="Bracket children wait inactive until the parent fills.")
    filled_quantity = models.DecimalField(default=Decimal("0"), **QUANTITY)
    avg_fill_price = models.DecimalField(null=True, blank=True, **PRICE)
    commission = models.DecimalField(default=Decimal("0"), **MONEY)
    message = models.TextField(blank=True)
    placed_at = models.DateTimeField()
    next_bar_at = models.DateTimeField(help_text="Start of the first one-minute bar not yet matched against.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "status"], name="sim_order_account_status_idx")]

    def __str__(self):
        return f"#{self.pk} {self.side} {self.quantity} {self.symbol} {self.order_type} ({self.status})"

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    def is_working(self) -> bool:
        return self.status in (Order.Status.SUBMITTED, Order.Status.PARTIALLY_FILLED)


class SimulatedExecution(models.Model):
    order = models.ForeignKey(SimulatedOrder, on_delete=models.CASCADE, related_name="executions")
    exec_id = models.CharField(max_length=64, unique=True)
    quantity = models.DecimalField(**QUANTITY)
    price = models.DecimalField(**PRICE)
    commission = models.DecimalField(default=Decimal("0"), **MONEY)
    exchange_rate = models.DecimalField(
        null=True, blank=True, help_text="The rate from the contract's currency into the account's.", **RATE
    )
    executed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["executed_at", "id"]

    def __str__(self):
        return f"{self.exec_id}: {self.quantity} @ {self.price}"


class SimulatedPosition(models.Model):
    account = models.ForeignKey(SimulatedAccount, on_delete=models.CASCADE, related_name="positions")
    conid = models.BigIntegerField()
    symbol = models.CharField(max_length=32)
    quantity = models.DecimalField(default=Decimal("0"), help_text="Negative when short.", **QUANTITY)
    average_cost = models.DecimalField(default=Decimal("0"), **PRICE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [models.UniqueConstraint(fields=["account", "conid"], name="unique_sim_position")]

    def __str__(self):
        return f"{self.quantity} {self.symbol} @ {self.average_cost}"


class Alert(models.Model):
    """A risk or account condition a trader (or staff) should look at, until someone marks it reviewed."""

    class Kind(models.TextChoices):
        EXPOSURE = "exposure"
        LOSS_STREAK = "loss_streak", "Loss streak"
        STOP_BREACH = "stop_breach", "Stop breach"
        DISCREPANCY = "discrepancy"
        ORDER_REJECTED = "order_rejected", "Order rejected"

    class Severity(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        CRITICAL = "critical"

    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.WARNING)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alerts",
        help_text="Empty: about the shared broker account (staff).",
    )
    strategy = models.ForeignKey(
        "workflows.Strategy", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    key = models.CharField(
        max_length=200, db_index=True, help_text="What the alert is about; no second unreviewed alert with one key."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reviewed = models.BooleanField(default=False, db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviewed_alerts"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "reviewed", "-created_at"], name="alert_owner_reviewed_idx")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.message[:60]}"
