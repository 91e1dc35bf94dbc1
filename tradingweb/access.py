"""Who may see a row, written once: staff see every row, a trader sees their own.

Every owned model's manager is built from `VisibleToQuerySet`, so `Model.objects.visible_to(user)` is the
rule for the API (`VisibleToUserMixin`), the pages (`visible_or_404`) and the consumers. A model whose
owner is reached through a relation says so once, in its queryset's `owner_lookups`. Code that works on
one book or every book (an owner, or None for staff) narrows a queryset with `owned_by(owner)`. This module
imports no app (DESIGN §1).
"""

from django.db import models
from django.db.models import Q
from django.shortcuts import get_object_or_404


def sees_everything(user) -> bool:
    return bool(user.is_staff)


def may_see_owned(user, owner_id: int | None) -> bool:
    """For one row or event already in hand (its owner's id): the same rule as `visible_to`."""
    return sees_everything(user) or owner_id == user.pk


def owner_scope(user):
    """The owner argument of functions that read one book or every book: the trader, or None for staff."""
    return None if sees_everything(user) else user


class VisibleToQuerySet(models.QuerySet):
    """A queryset with the access rule; `owner_lookups` are the paths to the owning user (any one suffices)."""

    owner_lookups: tuple[str, ...] = ("owner",)

    def visible_to(self, user):
        return self.owned_by(owner_scope(user))

    def owned_by(self, owner):
        """One trader's rows, or every row for None: the book that `owner_scope` names."""
        if owner is None:
            return self
        condition = Q()
        for lookup in self.owner_lookups:
            condition |= Q(**{lookup: owner})
        return self.filter(condition)


def owned_through(*owner_lookups: str) -> type[VisibleToQuerySet]:
    """The queryset class of a model whose owner is reached through `owner_lookups`."""
    return type("VisibleToQuerySet", (VisibleToQuerySet,), {"owner_lookups": owner_lookups})


def visible_or_404(user, queryset, **lookups):
    """The one row matching `lookups` that the user may see; others' rows answer 404, as if absent."""
    return get_object_or_404(queryset.visible_to(user), **lookups)
