"""Shared API plumbing: one error format, owner scoping."""

import logging

from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    """DRF's handler; anything it does not know becomes a logged 500 without a traceback."""
    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.exception("Unhandled API error in %s", type(view).__name__ if view else "unknown view")
    return response


class OwnerScopedMixin:
    """Traders see only their own rows (others' answer 404); staff see all.

    `owner_lookup` is the path from the viewset's model to its owning user,
    e.g. "owner" or "execution__owner".
    """

    owner_lookup = "owner"

    def scope_to_owner(self, queryset):
        user = self.request.user
        if user.is_staff:
            return queryset
        return queryset.filter(**{self.owner_lookup: user})

    def get_queryset(self):
        return self.scope_to_owner(super().get_queryset())
