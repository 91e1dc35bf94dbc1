"""Forms of the orders, portfolio and charts pages.

The manual order form carries no rules of its own: it hands what was typed to the API's
ManualOrderSerializer, so a page and an API client are held to exactly the same checks.
"""

from datetime import UTC, datetime, time

from django import forms

from broker.models import Order, Trade
from broker.serializers.orders import ManualOrderSerializer

SYMBOL_ATTRS = {"placeholder": "AAPL", "autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}


class ManualOrderForm(forms.Form):
    symbol = forms.CharField(max_length=32, widget=forms.TextInput(attrs={**SYMBOL_ATTRS, "required": True}))
    side = forms.ChoiceField(
        choices=Order.Side.choices, initial=Order.Side.BUY, widget=forms.RadioSelect(attrs={"class": "sr-only"})
    )
    quantity = forms.CharField(
        label="Quantity (shares)",
        widget=forms.NumberInput(attrs={"min": "1", "step": "1", "inputmode": "numeric", "required": True}),
    )
    order_type = forms.ChoiceField(label="Type", choices=Order.entry_type_choices(), initial=Order.Type.LIMIT)
    price = forms.CharField(
        label="Limit price",
        required=False,
        widget=forms.NumberInput(attrs={"min": "0", "step": "0.01", "inputmode": "decimal"}),
    )
    tif = forms.ChoiceField(label="Time in force", choices=Order.TimeInForce.choices, initial=Order.TimeInForce.DAY)
    idempotency_key = forms.CharField(required=False, widget=forms.HiddenInput)
    confirm_live = forms.BooleanField(label="I confirm: this order goes to a LIVE, real-money account")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "order_%s")  # unique beside the history filters' fields on one page
        super().__init__(*args, **kwargs)
        # Every rule lives in the serializer; the fields here only render and collect.
        for field in self.fields.values():
            field.required = False

    def clean(self):
        incoming = ManualOrderSerializer(data={name: value for name, value in self.data.items() if value != ""})
        if incoming.is_valid():
            return incoming.validated_data
        for name, errors in incoming.errors.items():
            field = name if name in self.fields else None
            if field and self.has_error(field):
                continue
            for error in errors:
                self.add_error(field, str(error))
        return self.cleaned_data


def _start_of(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _end_of(day) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)


class DateRangeFilterForm(forms.Form):
    """A symbol and a from/to day range (UTC days, both ends included)."""

    symbol = forms.CharField(required=False, max_length=32, widget=forms.TextInput(attrs=SYMBOL_ATTRS))
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    date_field = "created_at"

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def filter(self, queryset):
        """The queryset narrowed by the valid filters (invalid ones are left out and shown as errors)."""
        self.is_valid()
        data = self.cleaned_data
        if symbol := (data.get("symbol") or "").strip():
            queryset = queryset.filter(instrument__symbol__iexact=symbol)
        if data.get("since") and not self.has_error("since"):
            queryset = queryset.filter(**{f"{self.date_field}__gte": _start_of(data["since"])})
        if data.get("until") and not self.has_error("until"):
            queryset = queryset.filter(**{f"{self.date_field}__lte": _end_of(data["until"])})
        return queryset

    @property
    def active(self) -> bool:
        """Whether any filter is set (the page number is not a filter)."""
        return any(value for name, value in self.data.items() if name != "page")


class OrderHistoryFilterForm(DateRangeFilterForm):
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status")]
        + [(value, label) for value, label in Order.Status.choices if value not in Order.OPEN_STATUSES],
    )

    def filter(self, queryset):
        queryset = super().filter(queryset)
        if status := self.cleaned_data.get("status"):
            queryset = queryset.filter(status=status)
        return queryset


class TradeFilterForm(DateRangeFilterForm):
    OPEN, CLOSED = "open", "closed"

    state = forms.ChoiceField(required=False, choices=[("", "Open and closed"), (OPEN, "Open"), (CLOSED, "Closed")])
    direction = forms.ChoiceField(required=False, choices=[("", "Long and short"), *Trade.Direction.choices])

    date_field = "entry_at"

    def filter(self, queryset):
        queryset = super().filter(queryset)
        state = self.cleaned_data.get("state")
        if state:
            queryset = queryset.filter(exit_at__isnull=state == self.OPEN)
        if direction := self.cleaned_data.get("direction"):
            queryset = queryset.filter(direction=direction)
        return queryset
