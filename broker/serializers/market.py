"""Instruments, broker status and charts as JSON."""

from rest_framework import serializers

from broker.models import Chart, Instrument
from broker.timeframes import validate_timeframe


class InstrumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instrument
        fields = ["id", "symbol", "conid", "exchange", "primary_exchange", "currency", "sec_type", "name", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_symbol(self, value: str) -> str:
        return value.strip().upper()


class QualifySerializer(serializers.Serializer):
    symbol = serializers.RegexField(
        r"^\s*[A-Za-z][A-Za-z0-9.\-]{0,11}\s*$", max_length=32, error_messages={"invalid": "Not a ticker symbol."}
    )


class BrokerStatusSerializer(serializers.Serializer):
    authenticated = serializers.BooleanField()
    connected = serializers.BooleanField()
    account = serializers.CharField(source="account_id")
    paper = serializers.BooleanField()
    mode = serializers.SerializerMethodField()
    adapter = serializers.CharField()
    message = serializers.CharField()

    def get_mode(self, status) -> str:
        return "paper" if status.paper else "live"


class TimeframeSerializer(serializers.Serializer):
    period = serializers.CharField(default="1y")
    bar = serializers.CharField(default="1d")

    def validate(self, attrs):
        errors = validate_timeframe(attrs["period"], attrs["bar"])
        if errors:
            raise serializers.ValidationError({"timeframe": errors})
        return attrs


class ChartSerializer(serializers.ModelSerializer):
    chart_url = serializers.SerializerMethodField()
    generated_at = serializers.DateTimeField(source="created_at")
    symbol = serializers.CharField(source="instrument.symbol")
    conid = serializers.IntegerField(source="instrument.conid")

    class Meta:
        model = Chart
        fields = ["id", "chart_url", "period", "bar", "generated_at", "symbol", "conid", "width", "height", "sha256"]

    def get_chart_url(self, chart) -> str:
        request = self.context.get("request")
        if request is None:
            return chart.image_url()
        return request.build_absolute_uri(chart.image_url(grant_to=request.user))
