"""Serializers of the portfolio API: trades, positions, the summary and the risk report."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from broker.models import Trade

SECONDS_PER_DAY = Decimal(86400)


class TradeSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    conid = serializers.IntegerField(source="instrument.conid", read_only=True)
    is_closed = serializers.BooleanField(read_only=True)
    holding_period_seconds = serializers.SerializerMethodField()
    holding_period_days = serializers.SerializerMethodField()

    class Meta:
        model = Trade
        fields = [
            "id",
            "symbol",
            "conid",
            "strategy",
            "decision",
            "direction",
            "quantity",
            "closed_quantity",
            "entry_price",
            "entry_at",
            "exit_price",
            "exit_at",
            "realized_pnl",
            "commission",
            "is_closed",
            "holding_period_seconds",
            "holding_period_days",
        ]
        read_only_fields = fields

    def _held(self, trade: Trade) -> timedelta:
        """Entry to exit, or to now while the trade is open."""
        return (trade.exit_at or self.context.get("now") or timezone.now()) - trade.entry_at

    def get_holding_period_seconds(self, trade: Trade) -> int:
        return int(self._held(trade).total_seconds())

    def get_holding_period_days(self, trade: Trade) -> str:
        # A string, like every other decimal this API returns.
        return str((Decimal(self._held(trade).total_seconds()) / SECONDS_PER_DAY).quantize(Decimal("0.01")))


def _money():
    return serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)


def _rate():
    return serializers.DecimalField(max_digits=24, decimal_places=8, allow_null=True)


def _currencies(help_text: str):
    return serializers.ListField(child=serializers.CharField(), help_text=help_text)


MISSING_RATES_HELP = "Currencies the broker gives no rate for: the totals they would enter are null."
ACCOUNT_CURRENCY_HELP = "The account's currency, which every account_ amount, total and exposure is in."


def _percent():
    return serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)


class PositionRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    owner = serializers.IntegerField()
    symbol = serializers.CharField()
    conid = serializers.IntegerField()
    sec_type = serializers.CharField()
    currency = serializers.CharField(help_text="The instrument's currency: prices, market_value and unrealized_pnl.")
    multiplier = serializers.DecimalField(max_digits=20, decimal_places=4)
    exchange_rate = _rate()
    strategy = serializers.IntegerField(allow_null=True)
    direction = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=20, decimal_places=4)
    average_cost = serializers.DecimalField(max_digits=20, decimal_places=6)
    current_price = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    market_data_type = serializers.CharField(
        allow_blank=True, help_text="The broker's kind of quote that priced current_price: live, frozen, delayed..."
    )
    market_value = _money()
    unrealized_pnl = _money()
    account_market_value = _money()
    account_unrealized_pnl = _money()
    pct_gain = _percent()
    stop_price = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    distance_to_stop_pct = _percent()
    stop_breached = serializers.BooleanField()
    concentration_pct = _percent()
    concentrated = serializers.BooleanField()
    needs_review = serializers.BooleanField()
    review_note = serializers.CharField(allow_blank=True)


class PositionsSerializer(serializers.Serializer):
    equity = _money()
    currency = serializers.CharField(help_text=ACCOUNT_CURRENCY_HELP)
    missing_rates = _currencies(MISSING_RATES_HELP)
    positions = PositionRowSerializer(many=True)
    top_positions = PositionRowSerializer(many=True)


class PortfolioSummarySerializer(serializers.Serializer):
    total_value = _money()
    cash = _money()
    currency = serializers.CharField(allow_null=True, help_text=ACCOUNT_CURRENCY_HELP)
    paper = serializers.BooleanField(allow_null=True)
    positions_value = _money()
    realized_pnl = _money()
    unrealized_pnl = _money()
    total_pnl = _money()
    missing_rates = _currencies(MISSING_RATES_HELP)
    open_positions = serializers.IntegerField()
    trades_all_time = serializers.IntegerField()
    trades_this_month = serializers.IntegerField()
    trades_this_week = serializers.IntegerField()
    unconverted_trades = serializers.IntegerField(
        help_text="Closed trades left out of the statistics: no rate into the account's currency is known."
    )
    closed_trades = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    win_rate = _percent()
    average_pnl = _money()
    average_gain = _money()
    average_loss = _money()
    largest_win = _money()
    largest_loss = _money()
    gross_profit = _money()
    gross_loss = _money()
    profit_factor = _percent()
    average_r_achieved = _percent()
    average_r_planned = _percent()
    r_trades = serializers.IntegerField()


class RiskSerializer(serializers.Serializer):
    equity = _money()
    exposure = _money()
    exposure_pct = _percent()
    currency = serializers.CharField(allow_null=True, help_text=ACCOUNT_CURRENCY_HELP)
    missing_rates = _currencies(MISSING_RATES_HELP)
    open_positions = serializers.IntegerField()
    average_open_r = _percent()
    largest_position_pct = _percent()
    consecutive_losses = serializers.IntegerField()
    warnings = serializers.ListField(child=serializers.CharField())
    top_positions = PositionRowSerializer(many=True)
