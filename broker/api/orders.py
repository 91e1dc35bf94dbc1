"""Orders API: manual orders by their owner, the order list and detail, cancel."""

import logging

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from broker.adapters.base import BrokerError
from broker.models import Order
from broker.orders import OrderRefused, order_cancel, order_modify, order_place_manual, order_refresh
from broker.serializers.orders import (
    ManualOrderSerializer,
    OrderModifySerializer,
    OrderSerializer,
    manual_order_fields,
)
from tradingweb.api import UTCDateTimeFilter, VisibleToUserMixin, serializer_columns

logger = logging.getLogger(__name__)


class OrderRefusedError(APIException):
    default_code = "order_refused"

    def __init__(self, refusal: OrderRefused):
        code = "conflict" if refusal.http_status == 409 else self.default_code
        super().__init__({refusal.field: [refusal.reason]} if refusal.field else refusal.reason, code=code)
        self.status_code = refusal.http_status


class BrokerFailure(APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The broker failed."
    default_code = "broker_error"


class BrokerErrorsMixin:
    """Refusals answer with their status and reason; broker failures answer 502 with the broker's message."""

    def handle_exception(self, exc):
        if isinstance(exc, OrderRefused):
            exc = OrderRefusedError(exc)
        elif isinstance(exc, BrokerError):
            logger.warning("Broker error in %s: %s", type(self).__name__, exc)
            exc = BrokerFailure(f"Broker error: {exc}")
        return super().handle_exception(exc)


class OrderFilter(filters.FilterSet):
    symbol = filters.CharFilter(field_name="instrument__symbol", lookup_expr="iexact")
    since = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UTCDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Order
        fields = ["status", "strategy", "side", "decision", "execution"]


class OrderViewSet(
    BrokerErrorsMixin,
    VisibleToUserMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Owners see, modify (PATCH quantity and/or price) and cancel their own orders (others' answer 404);
    staff see all."""

    queryset = Order.objects.select_related("instrument")
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    ordering_fields = ["created_at", "updated_at"]
    ordering = ["-created_at", "-id"]
    throttle_scope = "orders"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset()
        # The list reads only what it shows; placing, changing and cancelling work on whole rows.
        return queryset.only(*serializer_columns(OrderSerializer, Order)) if self.action == "list" else queryset

    def get_throttles(self):
        if self.action in ("create", "partial_update", "destroy"):
            return [ScopedRateThrottle()]
        return super().get_throttles()

    @extend_schema(request=ManualOrderSerializer, responses={201: OrderSerializer})
    def create(self, request, *args, **kwargs):
        incoming = ManualOrderSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        order = order_place_manual(owner=request.user, **manual_order_fields(incoming.validated_data))
        return Response(self.get_serializer(order).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, *args, **kwargs):
        order = order_refresh(self.get_object())
        return Response(self.get_serializer(order).data)

    @extend_schema(request=OrderModifySerializer, responses={200: OrderSerializer})
    def partial_update(self, request, *args, **kwargs):
        """Change a working order's quantity and/or limit price at the broker."""
        order = self.get_object()  # another trader's order is a 404 whatever the body says
        incoming = OrderModifySerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        changes = incoming.validated_data
        order = order_modify(order, quantity=changes.get("quantity"), limit_price=changes.get("price"))
        return Response(self.get_serializer(order).data)

    @extend_schema(responses={200: OrderSerializer})
    def destroy(self, request, *args, **kwargs):
        order = order_cancel(self.get_object())
        return Response(self.get_serializer(order).data)
