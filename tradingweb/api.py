"""Shared API plumbing: one error format, the access rule for viewsets and for one-book-or-every-book endpoints,
date filters safe for any ISO 8601 input."""

import logging
from datetime import UTC

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models.constants import LOOKUP_SEP
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from tradingweb.access import owner_scope

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    """DRF's handler; anything it does not know becomes a logged 500 without a traceback."""
    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.exception("Unhandled API error in %s", type(view).__name__ if view else "unknown view")
    return response


class VisibleToUserMixin:
    """A viewset's rows are those its model's access rule lets the user see (others' answer 404)."""

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)


def serializer_columns(serializer_class, model) -> list[str]:
    """The columns a serializer's output reads from `model` and the rows it follows (`source` paths as lookups),
    for `.only()`: a list reads what its page shows and no more (a version's steps, a strategy's params).

    Sources that are not a path of concrete fields and foreign keys (properties, method fields, reverse and
    many-to-many relations) are left out; whatever they read must be among the columns or prefetched."""
    columns = []
    for field in serializer_class().fields.values():
        if field.write_only or field.source == "*":
            continue
        path = field.source.replace(".", LOOKUP_SEP)
        if _is_column_path(model, path):
            columns.append(path)
    return columns


def _is_column_path(model, path: str) -> bool:
    for name in path.split(LOOKUP_SEP):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        if not field.concrete or field.many_to_many or field.one_to_many:
            return False
        model = field.related_model
    return True


OWNER_PARAMETER = OpenApiParameter(
    "owner", int, description="Staff only: one trader's portfolio (default: everyone's)."
)


def requested_owner(request):
    """The book an endpoint works on (`owner_scope`): the trader's own; staff's is everyone's (None), or one
    trader's with ?owner=<user id>."""
    owner = owner_scope(request.user)
    if owner is not None:
        return owner
    owner_id = request.query_params.get("owner")
    if not owner_id:
        return None
    if not owner_id.isdigit():
        raise ValidationError({"owner": "Must be a user id."})
    return get_object_or_404(get_user_model(), pk=int(owner_id))


class UTCDateTimeField(forms.DateTimeField):
    """An ISO 8601 date-time turned into UTC.

    ISO 8601 allows offsets up to ±23:59 and years from 1; PostgreSQL refuses offsets beyond ±15:59
    (a 500 from the database), so the value is converted here and one out of range is a field error.
    """

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError as exc:
            raise forms.ValidationError("Enter a date-time between the years 1 and 9999 in UTC.") from exc


class UTCDateTimeFilter(django_filters.DateTimeFilter):
    """The `?since=` / `?until=` filter of the API's lists."""

    field_class = UTCDateTimeField
