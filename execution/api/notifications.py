"""Notifications API (the caller's own), their preferences, and reconciliation on demand. Thin views."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from broker.api.orders import BrokerErrorsMixin
from execution.models import Notification, NotificationPreference
from execution.notifications import mark_all_read, mark_read, reconcile_and_notify
from tradingweb.api import OWNER_PARAMETER, requested_owner
from tradingweb.outbound import UnsafeURL, validate_user_url


class NotificationSerializer(serializers.ModelSerializer):
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "data", "created_at", "read_at", "read"]
        read_only_fields = fields

    def get_read(self, notification) -> bool:
        return notification.is_read()


class NotificationPreferenceSerializer(serializers.ModelSerializer):
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=Notification.Kind.choices),
        required=False,
        help_text="Kinds sent by email and webhook; empty = every kind.",
    )

    class Meta:
        model = NotificationPreference
        fields = ["email_enabled", "webhook_url", "kinds", "updated_at"]
        read_only_fields = ["updated_at"]

    def validate_webhook_url(self, value: str) -> str:
        if not value:
            return value
        try:
            return validate_user_url(value)
        except UnsafeURL as error:
            raise serializers.ValidationError(str(error)) from error

    def validate_kinds(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """GET /api/notifications/ (?unread=true, ?kind=), POST …/{id}/read/ and POST …/read-all/: one's own only."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    lookup_value_regex = r"\d+"
    filterset_fields = ["kind"]

    def get_queryset(self):
        notifications = super().get_queryset().filter(owner=self.request.user)
        if self.request.query_params.get("unread", "").lower() in ("1", "true", "yes"):
            notifications = notifications.filter(read_at__isnull=True)
        return notifications

    @extend_schema(parameters=[OpenApiParameter("unread", bool, description="Only notifications not read yet.")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        return Response(NotificationSerializer(mark_read(self.get_object())).data)

    @extend_schema(request=None, responses=dict)
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"marked_read": mark_all_read(request.user)})


class NotificationPreferenceView(APIView):
    """GET|PUT /api/notifications/preferences/: how the caller is told beyond the app."""

    def _preference(self, user) -> NotificationPreference:
        return NotificationPreference.objects.get_or_create(owner=user)[0]

    @extend_schema(responses=NotificationPreferenceSerializer)
    def get(self, request):
        return Response(NotificationPreferenceSerializer(self._preference(request.user)).data)

    @extend_schema(request=NotificationPreferenceSerializer, responses=NotificationPreferenceSerializer)
    def put(self, request):
        serializer = NotificationPreferenceSerializer(self._preference(request.user), data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)


class ReconcileView(BrokerErrorsMixin, APIView):
    """POST /api/portfolio/reconcile/: compare the caller's positions and orders (staff: everyone's) with the broker."""

    @extend_schema(request=None, parameters=[OWNER_PARAMETER], responses=dict)
    def post(self, request):
        report = reconcile_and_notify(requested_owner(request))
        return Response(report.as_dict())
