"""Instruments, broker status and chart endpoints. Broker failures answer 502 with the broker's message."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from broker.adapters import PermanentBrokerError, cached_status
from broker.api.orders import BrokerErrorsMixin
from broker.charts import chart_for
from broker.instruments import qualify_symbol
from broker.models import Chart, Instrument
from broker.serializers.market import (
    BrokerStatusSerializer,
    ChartSerializer,
    InstrumentSerializer,
    QualifySerializer,
    TimeframeSerializer,
)

NO_SECURITY_DEFINITION = 200  # IBKR's code for an unknown contract


class ReadOnlyUnlessStaff(permissions.BasePermission):
    """Instruments are shared reference data: everyone signed in reads them, staff change them."""

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or request.user.is_staff


class InstrumentViewSet(BrokerErrorsMixin, viewsets.ModelViewSet):
    queryset = Instrument.objects.all()
    serializer_class = InstrumentSerializer
    permission_classes = [permissions.IsAuthenticated, ReadOnlyUnlessStaff]
    search_fields = ["symbol", "name"]
    filterset_fields = ["symbol", "sec_type", "currency", "exchange"]
    ordering_fields = ["symbol", "created_at"]

    def get_permissions(self):
        if self.action == "qualify":
            return [permissions.IsAuthenticated()]
        return super().get_permissions()

    @extend_schema(request=QualifySerializer, responses=InstrumentSerializer)
    @action(detail=False, methods=["post"])
    def qualify(self, request):
        """Qualify a symbol through the broker and store it (or return the stored instrument)."""
        serializer = QualifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            instrument = qualify_symbol(serializer.validated_data["symbol"])
        except PermanentBrokerError as exc:
            if exc.code != NO_SECURITY_DEFINITION:
                raise
            return Response({"symbol": [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(InstrumentSerializer(instrument).data)


class AuthenticateView(APIView):
    """The broker adapter's status: authenticated, account, paper or live (cached 30 s)."""

    @extend_schema(responses=BrokerStatusSerializer)
    def get(self, request):
        return Response(BrokerStatusSerializer(cached_status()).data)


class ChartView(BrokerErrorsMixin, APIView):
    """A chart of an instrument for a timeframe: a recent one reused, else generated now."""

    @extend_schema(
        parameters=[OpenApiParameter("period", str, default="1y"), OpenApiParameter("bar", str, default="1d")],
        responses=ChartSerializer,
    )
    def get(self, request, conid: int):
        instrument = get_object_or_404(Instrument, conid=conid)
        timeframe = TimeframeSerializer(data=request.query_params)
        timeframe.is_valid(raise_exception=True)
        chart = chart_for(instrument, timeframe.validated_data["period"], timeframe.validated_data["bar"])
        return Response(ChartSerializer(chart, context={"request": request}).data)


class ChartHistoryView(ListAPIView):
    """Charts made for an instrument, newest first."""

    serializer_class = ChartSerializer
    filterset_fields = ["period", "bar"]

    def get_queryset(self):
        instrument = get_object_or_404(Instrument, conid=self.kwargs["conid"])
        return Chart.objects.filter(instrument=instrument).select_related("instrument")
