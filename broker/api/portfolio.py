"""Portfolio API: summary, positions, trades and risk of the caller (staff: everyone, or ?owner=)."""

from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from broker import adapters
from broker.api.orders import BrokerErrorsMixin
from broker.models import Trade
from broker.portfolio import (
    TOP_POSITIONS,
    missing_rates,
    portfolio_summary,
    position_rows,
    refresh_marks,
    risk_report,
)
from broker.serializers.portfolio import (
    PortfolioSummarySerializer,
    PositionsSerializer,
    RiskSerializer,
    TradeSerializer,
)
from tradingweb.api import OWNER_PARAMETER, UTCDateTimeFilter, VisibleToUserMixin, requested_owner


class MarkedPortfolioView(BrokerErrorsMixin, APIView):
    """Reads the account from the broker and marks the positions at its last prices first."""

    def marked_account(self, owner):
        adapter = adapters.get_adapter()
        account = adapter.account_summary()
        adapters.remember_account(account)
        refresh_marks(owner, adapter)
        return account


class PortfolioView(MarkedPortfolioView):
    @extend_schema(parameters=[OWNER_PARAMETER], responses=PortfolioSummarySerializer)
    def get(self, request):
        owner = requested_owner(request)
        account = self.marked_account(owner)
        return Response(PortfolioSummarySerializer(portfolio_summary(owner, account=account)).data)


class PositionsView(MarkedPortfolioView):
    @extend_schema(parameters=[OWNER_PARAMETER], responses=PositionsSerializer)
    def get(self, request):
        owner = requested_owner(request)
        account = self.marked_account(owner)
        rows = position_rows(owner, account=account)
        payload = {
            "equity": account.equity,
            "currency": account.currency,
            "missing_rates": missing_rates((row["currency"] for row in rows), account),
            "positions": rows,
            "top_positions": rows[:TOP_POSITIONS],
        }
        return Response(PositionsSerializer(payload).data)


class RiskView(MarkedPortfolioView):
    @extend_schema(parameters=[OWNER_PARAMETER], responses=RiskSerializer)
    def get(self, request):
        owner = requested_owner(request)
        account = self.marked_account(owner)
        return Response(RiskSerializer(risk_report(owner, account=account)).data)


class TradeFilter(filters.FilterSet):
    symbol = filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact")
    since = UTCDateTimeFilter(field_name="entry_at", lookup_expr="gte")
    until = UTCDateTimeFilter(field_name="entry_at", lookup_expr="lte")
    closed = filters.BooleanFilter(field_name="exit_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Trade
        fields = ["strategy", "direction", "decision", "owner"]


class TradeListView(VisibleToUserMixin, generics.ListAPIView):
    """Round-trip trades, newest entry first, with their holding period."""

    queryset = Trade.objects.select_related("instrument")
    serializer_class = TradeSerializer
    filterset_class = TradeFilter
    ordering_fields = ["entry_at", "exit_at", "realized_pnl"]
    ordering = ["-entry_at", "-id"]

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}
