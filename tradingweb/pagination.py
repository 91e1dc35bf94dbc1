"""Pages of the API's lists whose cost does not grow with the table.

By default a list walks by keyset: `next` and `previous` carry a `?cursor=` naming the last (or first) row
of the page by the values of the list's ordering, so the next page is an index range read, not an
`OFFSET` that reads and drops every row before it. The cursor is signed (`django.core.signing`, salted
with the list's path) and carries its ordering, so it cannot be forged into another row, list or order.
`?limit=&offset=` keep working for older clients (their `next` stays an offset link).

`count` is exact up to `EXACT_COUNT_LIMIT` rows; beyond it the list says `count_exact: false` and the
count is PostgreSQL's planner estimate (other databases: a count capped at `COUNT_CAP`, a lower bound).
`has_more` says whether a row follows the page. `limit` is clamped to `MAX_LIMIT`. A bad `limit`, a
negative offset or a cursor that is malformed, tampered with or from another ordering is a 400 with the
field's error, never a slow query. This module imports no app (DESIGN §1).
"""

import json

from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from django.db.models import F, Q
from django.db.models.constants import LOOKUP_SEP
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param

MAX_LIMIT = 200
EXACT_COUNT_LIMIT = 1_000
COUNT_CAP = 10_000


class OrderTerm:
    """One term of a list's ordering: a path to a concrete field, its direction, whether it may be NULL.

    NULLs sort last in both directions on every database, so the keyset rule below is one rule."""

    def __init__(self, model, term: str):
        self.descending = term.startswith("-")
        path = term.lstrip("-")
        if path == "pk":
            path = model._meta.pk.name
        names = path.split(LOOKUP_SEP)
        field = None
        for name in names:
            field = model._meta.get_field(name)
            model = field.related_model if field.is_relation else model
        if field.many_to_one or field.one_to_one:
            names[-1] = field.attname  # a foreign key orders by its id, not by the related model's ordering
        self.field = field
        self.path = LOOKUP_SEP.join(names)
        self.nullable = field.null
        self.term = term

    def expression(self, forward: bool = True):
        descending = self.descending == forward
        if not self.nullable:
            return f"-{self.path}" if descending else self.path
        nulls = {"nulls_last": True} if forward else {"nulls_first": True}
        return F(self.path).desc(**nulls) if descending else F(self.path).asc(**nulls)

    def value_of(self, row):
        value = row
        for name in self.path.split(LOOKUP_SEP):
            value = getattr(value, name) if value is not None else None
        return value

    def equal(self, value) -> Q:
        return Q(**{f"{self.path}__isnull": True}) if value is None else Q(**{self.path: value})

    def beyond(self, value, forward: bool) -> Q:
        """Rows strictly past `value` on this term, walking forward (or backward) through the ordering."""
        if value is None:  # NULLs come last: nothing follows them, every value precedes them
            return Q(pk__in=[]) if forward else Q(**{f"{self.path}__isnull": False})
        lookup = "lt" if self.descending == forward else "gt"
        condition = Q(**{f"{self.path}__{lookup}": value})
        return condition | Q(**{f"{self.path}__isnull": True}) if self.nullable and forward else condition

    def bound(self, value, forward: bool) -> Q:
        """A range the index can read (`created_at <= v`), implied by `beyond` on the terms that follow."""
        if value is None or (self.nullable and forward):
            return Q()
        lookup = "lte" if self.descending == forward else "gte"
        return Q(**{f"{self.path}__{lookup}": value})


def ordering_terms(queryset) -> list[OrderTerm]:
    """The queryset's ordering (its own or its model's), ended with the primary key so that it is total."""
    query = queryset.query
    names = list(query.order_by) or (list(queryset.model._meta.ordering) if query.default_ordering else [])
    if not all(isinstance(name, str) and name != "?" for name in names):
        raise TypeError(f"Keyset pages need an ordering by field names, not {names!r}")
    terms = [OrderTerm(queryset.model, name) for name in names]
    pk = queryset.model._meta.pk
    if not any(term.field == pk for term in terms):
        descending = terms[-1].descending if terms else False
        terms.append(OrderTerm(queryset.model, "-pk" if descending else "pk"))
    return terms


def keyset_after(terms: list[OrderTerm], values: list, forward: bool) -> Q:
    """Rows strictly after (forward) or before the row whose ordering values are `values`."""
    condition = Q(pk__in=[])
    same = Q()
    for term, value in zip(terms, values, strict=True):
        condition |= same & term.beyond(value, forward)
        same &= term.equal(value)
    return terms[0].bound(values[0], forward) & condition


def planner_row_estimate(queryset) -> int:
    """PostgreSQL's estimate of the rows the queryset matches (EXPLAIN, no rows read)."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def count_rows(queryset) -> tuple[int, bool]:
    """(count, exact): exact up to EXACT_COUNT_LIMIT rows, else an estimate that reads no more rows."""
    rows = queryset.values("pk")  # in the list's order, so the capped count reads the list's index
    counted = rows[: EXACT_COUNT_LIMIT + 1].count()
    if counted <= EXACT_COUNT_LIMIT:
        return counted, True
    if connections[queryset.db].vendor == "postgresql":
        return max(planner_row_estimate(rows.order_by()), counted), False
    return rows[:COUNT_CAP].count(), False


def whole_number(text: str, name: str, minimum: int) -> int:
    if not text.isdigit() or int(text) < minimum:
        raise ValidationError({name: [f"Must be a whole number of at least {minimum}."]})
    return int(text)


class KeysetPagination(BasePagination):
    """The API's default pagination (module docstring)."""

    default_limit = api_settings.PAGE_SIZE or 50

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        params = request.query_params
        self.limit = min(whole_number(params["limit"], "limit", 1), MAX_LIMIT) if "limit" in params else None
        if "offset" in params and "cursor" in params:
            raise ValidationError({"cursor": ["Give a cursor or an offset, not both."]})
        self.terms = ordering_terms(queryset)
        queryset = queryset.order_by(*(term.expression() for term in self.terms))
        self.count, self.count_exact = count_rows(queryset)
        if "offset" in params:
            return self._offset_page(queryset, whole_number(params["offset"], "offset", 0))
        return self._keyset_page(queryset, params.get("cursor"))

    @property
    def page_size(self) -> int:
        return self.limit or self.default_limit

    def _offset_page(self, queryset, offset: int) -> list:
        self.offset = offset
        rows = list(queryset[offset : offset + self.page_size + 1])
        self.has_more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        url = self.request.build_absolute_uri()
        self.next = replace_query_param(url, "offset", offset + self.page_size) if self.has_more else None
        self.previous = replace_query_param(url, "offset", max(0, offset - self.page_size)) if offset else None
        return rows

    def _keyset_page(self, queryset, cursor: str | None) -> list:
        forward, values = True, None
        if cursor is not None:
            forward, values = self._decode(cursor)
            queryset = queryset.filter(keyset_after(self.terms, values, forward))
            if not forward:
                queryset = queryset.order_by(*(term.expression(forward=False) for term in self.terms))
        rows = list(queryset[: self.page_size + 1])
        beyond_page = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if not forward:
            rows.reverse()
        more_after = beyond_page if forward else values is not None
        more_before = values is not None if forward else beyond_page
        self.has_more = more_after and bool(rows)
        self.next = self._link(rows[-1], forward=True) if self.has_more else None
        self.previous = self._link(rows[0], forward=False) if more_before and rows else None
        return rows

    def _salt(self) -> str:
        return f"tradingweb.pagination:{self.request.path}"

    def _link(self, row, forward: bool) -> str:
        payload = {
            "order": [term.term for term in self.terms],
            "key": [_plain(term.value_of(row)) for term in self.terms],
            "forward": forward,
        }
        cursor = signing.dumps(payload, salt=self._salt(), compress=True)
        url = remove_query_param(self.request.build_absolute_uri(), "offset")
        return replace_query_param(url, "cursor", cursor)

    def _decode(self, cursor: str) -> tuple[bool, list]:
        try:
            payload = signing.loads(cursor, salt=self._salt())
        except signing.BadSignature as exc:
            raise ValidationError({"cursor": ["Not a cursor of this list: use the next or previous link."]}) from exc
        if payload.get("order") != [term.term for term in self.terms]:
            raise ValidationError({"cursor": ["This cursor belongs to another ordering: start again without it."]})
        try:
            values = [None if value is None else term.field.to_python(value)
                      for term, value in zip(self.terms, payload["key"], strict=True)]  # fmt: skip
        except (DjangoValidationError, TypeError, ValueError) as exc:  # signed by us: an older release's cursor
            raise ValidationError({"cursor": ["This cursor has expired: start again without it."]}) from exc
        return bool(payload.get("forward", True)), values

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.count,
                "count_exact": self.count_exact,
                "has_more": self.has_more,
                "next": self.next,
                "previous": self.previous,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["count", "count_exact", "has_more", "results"],
            "properties": {
                "count": {"type": "integer", "example": 123},
                "count_exact": {
                    "type": "boolean",
                    "description": f"False beyond {EXACT_COUNT_LIMIT:,} rows: count is then an estimate.",
                },
                "has_more": {"type": "boolean", "description": "Whether a row follows this page."},
                "next": {**link, "description": "The next page (a cursor link, or an offset link in offset mode)."},
                "previous": {**link, "description": "The previous page."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        def parameter(name: str, description: str, kind: str) -> dict:
            return {"name": name, "required": False, "in": "query", "description": description,
                    "schema": {"type": kind}}  # fmt: skip

        return [
            parameter("cursor", "The page after (or before) a row: the value of a next or previous link.", "string"),
            parameter("limit", f"Rows per page (default {self.default_limit}, at most {MAX_LIMIT}).", "integer"),
            parameter("offset", "Older clients: skip this many rows (next links then stay offset links).", "integer"),
        ]


def _plain(value):
    """A key value as JSON: datetimes, dates and decimals as their ISO or decimal text."""
    if value is None or isinstance(value, int | str | bool | float):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
