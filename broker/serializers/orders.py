"""Serializers of the orders API: orders out, a manual order in, a modification."""

from decimal import Decimal

from django.conf import settings
from rest_framework import serializers

from broker.adapters.base import AmbiguousContract, ContractSpec, PermanentBrokerError
from broker.instruments import qualify_contract
from broker.models import Instrument, Order

SEC_TYPES = (("STK", "Stock or ETF"), ("CASH", "FX pair"), ("FUT", "Future"))


class OrderSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    conid = serializers.IntegerField(source="instrument.conid", read_only=True)
    # What the order works at: the limit (LMT) or a stop leg's trigger (STP); none for MKT.
    price = serializers.DecimalField(max_digits=20, decimal_places=6, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "symbol",
            "conid",
            "side",
            "quantity",
            "price",
            "order_type",
            "limit_price",
            "stop_price",
            "parent",
            "tif",
            "status",
            "status_message",
            "broker_order_id",
            "idempotency_key",
            "filled_quantity",
            "avg_fill_price",
            "commission",
            "paper",
            "decision",
            "strategy",
            "execution",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ManualOrderSerializer(serializers.Serializer):
    """A manual order: the instrument by symbol or conid, a whole number of shares, a price for LMT."""

    symbol = serializers.CharField(required=False, max_length=32)
    conid = serializers.IntegerField(required=False, min_value=1)
    sec_type = serializers.ChoiceField(
        choices=SEC_TYPES, required=False, help_text="STK (stocks and ETFs, the default), CASH (FX) or FUT."
    )
    exchange = serializers.CharField(
        required=False, max_length=16, help_text="Exchange or primary exchange: LSEETF, IDEALPRO, CME..."
    )
    currency = serializers.CharField(required=False, min_length=3, max_length=3)
    expiry = serializers.RegexField(
        r"^\d{6}(\d{2})?$", required=False, help_text="A future's contract month YYYYMM (or YYYYMMDD)."
    )
    side = serializers.ChoiceField(choices=Order.Side.choices)
    quantity = serializers.DecimalField(max_digits=20, decimal_places=4, min_value=Decimal("1"))
    price = serializers.DecimalField(max_digits=20, decimal_places=6, required=False, allow_null=True)
    order_type = serializers.ChoiceField(choices=Order.entry_type_choices(), default=Order.Type.LIMIT)
    tif = serializers.ChoiceField(choices=Order.TimeInForce.choices, default=Order.TimeInForce.DAY)
    idempotency_key = serializers.CharField(required=False, allow_blank=True, max_length=128)
    confirm_live = serializers.BooleanField(
        default=False,
        help_text="Must be true when TRADING_MODE is live: the trader confirms an order on a real-money account.",
    )

    def to_internal_value(self, data):
        # Sides and order types are upper case on the wire; accept "buy" and "lmt" as the same thing.
        if isinstance(data, dict):  # a QueryDict too; anything else is refused by the base class
            data = data.copy()
            for name in ("side", "order_type", "tif", "sec_type", "exchange", "currency"):
                if isinstance(data.get(name), str):
                    data[name] = data[name].upper()
        return super().to_internal_value(data)

    def validate_quantity(self, value):
        if value != value.to_integral_value():
            raise serializers.ValidationError("Quantity must be a whole number of shares.")
        return value

    def validate(self, attrs):
        if settings.TRADING_MODE == "live" and not attrs["confirm_live"]:
            # A strategy's orders need its allow_live; a manual order has no strategy, so its trader confirms.
            raise serializers.ValidationError(
                {"confirm_live": "Live trading: this order goes to a real-money account. Confirm it to place it."}
            )
        price = attrs.get("price")
        if attrs["order_type"] == Order.Type.LIMIT and (price is None or price <= 0):
            raise serializers.ValidationError({"price": "A LMT order needs a positive price."})
        if attrs["order_type"] == Order.Type.MARKET and price is not None:
            raise serializers.ValidationError({"price": "A MKT order takes no price; use LMT to set one."})
        attrs["instrument"] = self._instrument(attrs.get("symbol"), attrs.get("conid"), self._spec(attrs))
        return attrs

    @staticmethod
    def _spec(attrs) -> ContractSpec | None:
        """The contract the fields describe beyond a bare ticker (None: just the symbol's stock)."""
        details = {name: attrs[name] for name in ("sec_type", "exchange", "currency", "expiry") if attrs.get(name)}
        if not details or not attrs.get("symbol"):
            return None
        if details.get("sec_type") == "FUT" and not details.get("expiry"):
            raise serializers.ValidationError({"expiry": "A future needs its contract month (YYYYMM)."})
        return ContractSpec(symbol=attrs["symbol"].strip().upper(), **details)

    @staticmethod
    def _instrument(symbol, conid, spec: ContractSpec | None) -> Instrument:
        if conid is not None:
            instrument = Instrument.objects.filter(conid=conid).first()
            if instrument is None:
                raise serializers.ValidationError({"conid": f"Unknown instrument conid {conid}."})
            if symbol and instrument.symbol.upper() != symbol.strip().upper():
                raise serializers.ValidationError(
                    {"symbol": f"conid {conid} is {instrument.symbol}, not {symbol.strip().upper()}."}
                )
            return instrument
        if not symbol or not symbol.strip():
            raise serializers.ValidationError({"symbol": "Give the instrument's symbol or conid."})
        try:
            return qualify_contract(spec or symbol)
        except AmbiguousContract as ambiguous:
            raise serializers.ValidationError(
                {
                    "exchange": ambiguous.message,
                    "candidates": [
                        {
                            "conid": c.conid,
                            "symbol": c.local_symbol or c.symbol,
                            "sec_type": c.sec_type,
                            "exchange": c.primary_exchange or c.exchange,
                            "currency": c.currency,
                            "name": c.name,
                        }
                        for c in ambiguous.candidates
                    ],
                }  # fmt: skip
            ) from ambiguous
        except PermanentBrokerError as error:
            raise serializers.ValidationError(
                {"symbol": f"Unknown instrument {symbol.strip().upper()}: {error.message}"}
            ) from error


def manual_order_fields(data: dict) -> dict:
    """broker.orders.order_place_manual's arguments from a valid ManualOrderSerializer's data (API and order form)."""
    return {
        "instrument": data["instrument"],
        "side": data["side"],
        "quantity": data["quantity"],
        "order_type": data["order_type"],
        "limit_price": data.get("price"),
        "tif": data["tif"],
        "idempotency_key": data.get("idempotency_key", ""),
    }


class OrderModifySerializer(serializers.Serializer):
    """A change to a working order: a new whole quantity, a new limit price, or both."""

    quantity = serializers.DecimalField(max_digits=20, decimal_places=4, min_value=Decimal("1"), required=False)
    price = serializers.DecimalField(
        max_digits=20, decimal_places=6, min_value=Decimal("0.000001"), required=False, help_text="New limit price."
    )

    def validate_quantity(self, value):
        if value != value.to_integral_value():
            raise serializers.ValidationError("Quantity must be a whole number of shares.")
        return value

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError({"quantity": "Give a new quantity, a new price, or both."})
        return attrs
