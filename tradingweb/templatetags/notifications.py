"""What the header's notification bell needs to know: where the API is, and how each kind looks."""

from django import template
from django.urls import reverse

from execution.models import Notification

register = template.Library()

RECENT_NOTIFICATIONS = 10
# The toast a live notification raises; kinds not listed (approvals waiting, risk alerts) need a look: "warning".
TOAST_KIND = {
    Notification.Kind.EXECUTION_FAILED: "error",
    Notification.Kind.ORDER_REJECTED: "error",
    Notification.Kind.ORDER_FAILED: "error",
    Notification.Kind.ORDER_FILLED: "success",
}


@register.simple_tag
def notification_bell_config() -> dict:
    """The bell's settings.

    templates/components/notification_bell.html hands them to frontend/pages/notifications.js.
    """
    return {
        "list_url": reverse("notification-list"),
        "read_all_url": reverse("notification-read-all"),
        "socket_path": "/ws/monitor/",
        "executions_url": reverse("executions"),
        "orders_url": reverse("orders"),
        "limit": RECENT_NOTIFICATIONS,
        "kinds": {
            kind.value: {"label": kind.label, "toast": TOAST_KIND.get(kind, "warning")} for kind in Notification.Kind
        },
    }
