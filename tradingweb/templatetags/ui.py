"""Template helpers shared by every page: navigation, figures, status tones and table columns."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import NoReverseMatch, reverse

register = template.Library()

DASH = "—"


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str
    icon: str
    group: str


NAVIGATION = (
    NavItem("dashboard", "Dashboard", "squares-2x2", "Overview"),
    NavItem("strategies", "Strategies", "light-bulb", "Build"),
    NavItem("workflows", "Workflows", "rectangle-group", "Build"),
    NavItem("executions", "Executions", "play-circle", "Run"),
    NavItem("tasks", "Tasks", "queue-list", "Run"),
    NavItem("schedules", "Schedules", "calendar-days", "Run"),
    NavItem("analytics", "Analytics", "presentation-chart-line", "Review"),
    NavItem("orders", "Orders", "arrows-right-left", "Trade"),
    NavItem("portfolio", "Portfolio", "briefcase", "Trade"),
    NavItem("charts", "Charts", "chart-bar", "Trade"),
)


@register.simple_tag(takes_context=True)
def nav_sections(context):
    """The sidebar's groups of links, the current one marked.

    A page is current when the request path sits under the link's path (the dashboard only on an
    exact match), so detail pages such as /workflows/5/builder/ highlight their section. A view may
    name its section explicitly with a `nav_section` context variable.
    """
    request = context.get("request")
    path = request.path if request else ""
    chosen = context.get("nav_section")
    sections: dict[str, list[dict]] = {}
    for item in NAVIGATION:
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        if chosen:
            current = chosen == item.url_name
        else:
            current = path == url if url == "/" else path.startswith(url)
        sections.setdefault(item.group, []).append(
            {"url": url, "label": item.label, "icon": item.icon, "current": current, "name": item.url_name}
        )
    return [{"title": title, "items": items} for title, items in sections.items()]


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


@register.filter
def money(value, places: int = 2):
    """12345.5 -> "12,345.50"; nothing -> an em dash."""
    number = _decimal(value)
    if number is None:
        return DASH
    rounded = number.quantize(Decimal(1).scaleb(-int(places)))
    sign = "-" if rounded < 0 else ""
    return f"{sign}{intcomma(f'{abs(rounded):.{int(places)}f}')}"


@register.filter
def signed_money(value, places: int = 2):
    """Always shows the sign: "+1,204.10" or "-88.00"."""
    number = _decimal(value)
    if number is None:
        return DASH
    formatted = money(number, places)
    return formatted if number < 0 else f"+{formatted}"


@register.filter
def quantity(value):
    """Shares without trailing zeros: Decimal("100.0000") -> "100", Decimal("0.5000") -> "0.5"."""
    number = _decimal(value)
    if number is None:
        return DASH
    text = f"{number.normalize():f}"
    whole, _, fraction = text.partition(".")
    return f"{intcomma(whole)}.{fraction}" if fraction else intcomma(whole)


@register.filter
def percent(value, places: int = 1):
    """A ratio as a percentage: 0.0512 -> "5.1%"."""
    number = _decimal(value)
    if number is None:
        return DASH
    return f"{number * 100:.{int(places)}f}%"


REFERENCE_SOURCES = {"quote_last": "Last trade", "quote_mid": "Bid/ask mid", "bars_close": "Last bar's close"}


@register.filter
def reference_source(value):
    """Where a market reference came from, in words: "quote_last" -> "Last trade"."""
    return REFERENCE_SOURCES.get(value, value or DASH)


@register.filter
def pnl_class(value):
    """The text colour of a profit (green), a loss (red) or nothing (grey)."""
    number = _decimal(value)
    if not number:
        return "text-slate-400"
    return "text-emerald-400" if number > 0 else "text-rose-400"


STATUS_TONES = {
    # executions, step runs
    "pending": "warning",
    "running": "info",
    "awaiting_approval": "attention",
    "completed": "success",
    "failed": "danger",
    "cancelled": "neutral",
    "skipped": "neutral",
    # decisions, approvals
    "proposed": "warning",
    "approved": "success",
    "rejected": "danger",
    "executed": "success",
    "modified": "info",
    "expired": "neutral",
    "buy": "success",
    "sell": "danger",
    "hold": "neutral",
    # orders
    "submitted": "info",
    "partially_filled": "info",
    "filled": "success",
    "needs_reconciliation": "attention",
    # workflows, strategies, schedules
    "draft": "neutral",
    "active": "success",
    "archived": "neutral",
    "paused": "warning",
    "enabled": "success",
    "disabled": "neutral",
    "dry_run": "neutral",
    "paper": "info",
    "live": "danger",
    # finished Celery tasks (the Task Queue history)
    "success": "success",
    "failure": "danger",
    "revoked": "neutral",
    # sides, directions
    "long": "success",
    "short": "danger",
}

TONE_CLASSES = {
    "success": "bg-emerald-500/10 text-emerald-300 ring-emerald-400/25",
    "info": "bg-sky-500/10 text-sky-300 ring-sky-400/25",
    "warning": "bg-amber-500/10 text-amber-300 ring-amber-400/25",
    "attention": "bg-fuchsia-500/10 text-fuchsia-300 ring-fuchsia-400/30",
    "danger": "bg-rose-500/10 text-rose-300 ring-rose-400/25",
    "neutral": "bg-slate-500/10 text-slate-300 ring-slate-400/20",
}

DOT_CLASSES = {
    "success": "bg-emerald-400",
    "info": "bg-sky-400",
    "warning": "bg-amber-400",
    "attention": "bg-fuchsia-400",
    "danger": "bg-rose-400",
    "neutral": "bg-slate-400",
}

# Statuses of things still moving: their badge dot pulses.
LIVE_STATUSES = {"running", "submitted", "partially_filled", "awaiting_approval"}


def status_key(status) -> str:
    return str(status or "").strip().lower().replace(" ", "_").replace("-", "_")


@register.filter
def status_tone(status) -> str:
    return TONE_CLASSES[STATUS_TONES.get(status_key(status), "neutral")]


@register.filter
def status_dot(status) -> str:
    return DOT_CLASSES[STATUS_TONES.get(status_key(status), "neutral")]


@register.filter
def status_is_live(status) -> bool:
    return status_key(status) in LIVE_STATUSES


@register.filter
def status_label(status) -> str:
    """"awaiting_approval" -> "Awaiting approval"; "BUY" -> "Buy"."""
    return status_key(status).replace("_", " ").capitalize()


@register.simple_tag
def table_columns(*specs):
    """Column headers for components/table.html: "Symbol", "Qty:num" (right-aligned figures),
    "Avg cost:num:wide" (hidden on phones; its cells carry `hidden sm:table-cell` too)."""
    columns = []
    for spec in specs:
        label, *flags = spec.split(":")
        columns.append({"label": label, "numeric": "num" in flags, "wide": "wide" in flags})
    return columns


TOAST_STYLES = {
    "success": {"title": "Done", "icon": "check-circle", "icon_class": "text-emerald-300",
                "ring": "ring-emerald-400/30", "timeout": 4000},
    "info": {"title": "Notice", "icon": "information-circle", "icon_class": "text-sky-300",
             "ring": "ring-sky-400/30", "timeout": 5000},
    "warning": {"title": "Warning", "icon": "exclamation-triangle", "icon_class": "text-amber-300",
                "ring": "ring-amber-400/30", "timeout": 7000},
    "error": {"title": "Error", "icon": "x-circle", "icon_class": "text-rose-300",
              "ring": "ring-rose-400/40", "timeout": 9000},
}
TOAST_KINDS = tuple(TOAST_STYLES)


@register.filter
def toast_style(kind) -> dict:
    """The look of a toast; Django's message tags map onto it (debug shows as info)."""
    kind = str(kind or "").split()[-1] if kind else "info"
    kind = kind if kind in TOAST_STYLES else "info"
    return {"kind": kind, **TOAST_STYLES[kind]}


@register.simple_tag
def toast_kinds():
    return TOAST_KINDS
