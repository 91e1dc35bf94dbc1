"""Every route of the app, found in the URL resolver, with its methods and its URL filled from a trader's objects.

New endpoints are covered without editing the tests. The tables below say only what the resolver
cannot know: which path segment names which owned object, and which routes are public.
"""

import re
from dataclasses import dataclass

from django.contrib import admin
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from workflows.templates import BUILTIN_TEMPLATES

# The path segment before `{pk}` names the kind of object the pk belongs to.
OWNED_PK_SEGMENTS = {
    "workflows": "workflow",
    "strategies": "strategy",
    "workflow-executions": "execution",
    "executions": "execution",
    "decisions": "decision",
    "orders": "order",
    "schedules": "schedule",
    "backtests": "backtest",
    "notifications": "notification",
    "positions": "position",
    "trades": "trade",
    "approvals": "approval",
    "images": "chart",  # charts/images/{pk}.png
}
SHARED_PK_SEGMENTS = {"instruments": "instrument"}
# Route kwargs other than pk: how to fill them, and whether they reach an owned object by themselves.
OTHER_KWARGS = {
    "number": (lambda world: world.workflow.current_version.number, False),
    "a": (lambda world: world.workflow.current_version.number, False),
    "b": (lambda world: world.workflow.current_version.number, False),
    "conid": (lambda world: world.instrument.conid, False),
    "type": (lambda world: BUILTIN_TEMPLATES[0]["type"], False),
    "task_id": (lambda world: world.execution.task_id, True),
    "execution_id": (lambda world: world.execution.pk, True),
}
# Query strings some GET routes need to do their work; `owned` when they name the trader's objects.
QUERIES = {
    "api/workflows/compare/": (lambda world: {"ids": str(world.workflow.pk)}, True),
    "api/backtests/compare/": (lambda world: {"a": str(world.backtest.pk), "b": str(world.backtest.pk)}, True),
    "backtests/compare/": (lambda world: {"a": str(world.backtest.pk), "b": str(world.backtest.pk)}, True),
    "api/schedules/preview/": (lambda world: {"cron": "30 14 * * 1-5"}, False),
}
PUBLIC_API_ROUTES = {"api/health/", "api/schema/", "api/docs/", "api/redoc/", "api/auth/token/"}
PUBLIC_PAGES = {"accounts/login/", "accounts/logout/"}
SKIPPED_PREFIXES = ("admin/", "media/", "static/")

_ROUTE_KWARG = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True)
class Endpoint:
    route: str  # e.g. "api/workflows/{pk}/versions/{number}/revert/"
    callback: object
    methods: tuple[str, ...]
    websocket: bool = False

    def __str__(self):
        return self.route

    @property
    def kwargs(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.route)

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def is_public(self) -> bool:
        return self.route in PUBLIC_API_ROUTES | PUBLIC_PAGES

    @property
    def is_owned(self) -> bool:
        """Reaches one trader's object through its URL (path kwargs or the query it needs)."""
        if self.route in QUERIES:
            return QUERIES[self.route][1]
        return any(self._source(name)[1] for name in self.kwargs)

    def _segment_before(self, name: str) -> str:
        before = self.route.split("{" + name + "}")[0].rstrip("/").split("/")
        return before[-1]

    def _source(self, name: str):
        if name == "pk":
            segment = self._segment_before(name)
            if segment in OWNED_PK_SEGMENTS:
                return (lambda world: getattr(world, OWNED_PK_SEGMENTS[segment]).pk), True
            if segment in SHARED_PK_SEGMENTS:
                return (lambda world: getattr(world, SHARED_PK_SEGMENTS[segment]).pk), False
            raise LookupError(f"{self.route}: add {segment!r} to OWNED_PK_SEGMENTS or SHARED_PK_SEGMENTS")
        if name in OTHER_KWARGS:
            return OTHER_KWARGS[name]
        raise LookupError(f"{self.route}: add the kwarg {name!r} to OTHER_KWARGS")

    def url(self, world) -> str:
        """The route filled from the world's objects; an HTTP one checked to resolve to this very view."""
        path = "/" + self.route
        for name in self.kwargs:
            path = path.replace("{" + name + "}", str(self._source(name)[0](world)))
        if not self.websocket:
            assert resolve(path).func is self.callback, f"{path} does not resolve to the view of {self.route}"
        return path

    def query(self, world) -> dict:
        return QUERIES[self.route][0](world) if self.route in QUERIES else {}


def _regex_template(regex: str) -> str:
    """`^workflows/(?P<pk>\\d+)/$` -> `workflows/{pk}/` (groups may nest parentheses)."""
    out, index = [], 0
    while index < len(regex):
        if regex.startswith("(?P<", index):
            name_end = regex.index(">", index)
            name = regex[index + 4 : name_end]
            depth, index = 1, name_end + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(regex[index], 0)
                index += 1
            out.append("{" + name + "}")
        else:
            out.append(regex[index])
            index += 1
    return "".join(out).lstrip("^").rstrip("$").replace("\\", "")


def _template(pattern) -> str:
    text = str(pattern.pattern)
    if type(pattern.pattern).__name__ == "RegexPattern":
        return _regex_template(text)
    return _ROUTE_KWARG.sub(r"{\1}", text)


def _methods(callback) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)
    if actions:
        return tuple(sorted(method.upper() for method in actions))
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        names = [name for name in view_class.http_method_names if name not in ("options", "head", "trace")]
        return tuple(name.upper() for name in names if hasattr(view_class, name))
    return ("GET", "POST")  # a function view: try both, the view says which it takes


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + _template(pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + _template(pattern), pattern.callback


def all_endpoints() -> list[Endpoint]:
    seen, endpoints = set(), []
    for route, callback in _walk(get_resolver().url_patterns):
        if route.startswith(SKIPPED_PREFIXES) or route in seen:
            continue
        seen.add(route)
        endpoints.append(Endpoint(route, callback, _methods(callback)))
    return endpoints


def api_endpoints() -> list[Endpoint]:
    return [endpoint for endpoint in all_endpoints() if endpoint.is_api]


def page_endpoints() -> list[Endpoint]:
    return [endpoint for endpoint in all_endpoints() if not endpoint.is_api]


def websocket_endpoints() -> list[Endpoint]:
    from tradingweb.routing import websocket_urlpatterns

    return [
        Endpoint(route, callback, ("CONNECT",), websocket=True) for route, callback in _walk(websocket_urlpatterns)
    ]


def admin_urls(user=None):
    """The admin's index, and for every registered model its list, add form and first row's change form.

    A generator, so each question is asked after the previous page was visited: with a `user`, add
    forms the model's admin refuses at that moment (e.g. a singleton's, once its list made the row) are left out.
    """
    request = RequestFactory().get("/admin/")
    request.user = user
    yield "/admin/"
    for model, model_admin in admin.site._registry.items():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        yield base
        if user is None or model_admin.has_add_permission(request):
            yield f"{base}add/"
        first = model.objects.order_by("pk").first()
        if first is not None:
            yield f"{base}{first.pk}/change/"
