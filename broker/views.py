"""The trading pages: orders (active, history, manual order), portfolio, chart data.

Rows come through broker.selectors (traders see their own, staff everyone's); orders go
through broker.orders, numbers through broker.portfolio. Requests made by htmx get the partial
they swap and a toast in the HX-Trigger header; the same URLs work as plain form posts.
"""

import json
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from broker import adapters
from broker.adapters.base import BrokerError
from broker.chart_data import DEFAULT_TIMEFRAME, chart_series, timeframe_for
from broker.forms import ManualOrderForm, OrderHistoryFilterForm, TradeFilterForm
from broker.models import Instrument, Order
from broker.orders import (
    OrderConflict,
    OrderRefused,
    new_idempotency_key,
    order_cancel,
    order_modify,
    order_place_manual,
    poll_open_orders,
)
from broker.pnl_history import realized_pnl_by_day
from broker.portfolio import (
    closed_trades,
    portfolio_summary,
    position_rows,
    r_statistics,
    refresh_marks,
    risk_report,
    trade_statistics,
)
from broker.selectors import orders_for, strategy_pnl, trades_for
from broker.serializers.orders import OrderModifySerializer, manual_order_fields
from tradingweb.access import owner_scope

logger = logging.getLogger(__name__)

PAGE_SIZE = 25


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def with_toast(response, message: str, kind: str = "success", *events: str):
    """Raise a toast (and any named events) in the browser through htmx's HX-Trigger header."""
    response["HX-Trigger"] = json.dumps({"toast": {"message": message, "kind": kind}, **dict.fromkeys(events, True)})
    return response


def paginate(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


# --- orders ------------------------------------------------------------------------------------


def new_order_form(data=None) -> ManualOrderForm:
    """A manual order form carrying a fresh idempotency key, so a double submit places one order."""
    return ManualOrderForm(data, initial={"idempotency_key": new_idempotency_key()})


@login_required
@require_GET
def orders(request):
    return orders_page(request, new_order_form())


def orders_page(request, form: ManualOrderForm):
    visible = orders_for(request.user)
    filters = OrderHistoryFilterForm(request.GET)
    context = {
        "open_orders": visible.filter(status__in=Order.OPEN_STATUSES),
        "page": paginate(request, filters.filter(visible.exclude(status__in=Order.OPEN_STATUSES))),
        "filters": filters,
        "form": form,
    }
    return render(request, "broker/orders.html", context)


@login_required
@require_GET
def orders_active(request):
    """The open orders, refreshed from the broker first (a failure keeps the last known states)."""
    broker_error = ""
    try:
        poll_open_orders()
    except BrokerError as error:
        broker_error = str(error)
    open_orders = orders_for(request.user).filter(status__in=Order.OPEN_STATUSES)
    return render(
        request, "broker/partials/active_orders.html", {"open_orders": open_orders, "broker_error": broker_error}
    )


def placed_message(order: Order) -> tuple[str, str]:
    """What to tell the trader about an order the broker accepted, rejected or filled."""
    label = f"{order.side} {order.quantity.normalize():f} {order.instrument.symbol} {order.order_type}"
    if order.status == Order.Status.REJECTED:
        return f"The broker rejected {label}: {order.status_message or 'no reason given'}", "error"
    if order.status == Order.Status.FILLED:
        return f"{label} filled at {order.avg_fill_price}.", "success"
    return f"Order #{order.pk} sent: {label} ({order.tif}) is working at the broker.", "success"


@login_required
@require_POST
def order_place(request):
    form = ManualOrderForm(request.POST)
    if form.is_valid():
        try:
            order = order_place_manual(owner=request.user, **manual_order_fields(form.cleaned_data))
        except OrderRefused as refusal:
            form.add_error(None, refusal.reason)
        except BrokerError as error:
            logger.warning("Manual order by %s failed at the broker: %s", request.user, error)
            form.add_error(None, f"The broker failed: {error}. Check the open orders before trying again.")
        else:
            message, kind = placed_message(order)
            if is_htmx(request):
                response = render(request, "broker/partials/order_form.html", {"form": new_order_form()})
                return with_toast(response, message, kind, "orders-changed")
            messages.add_message(request, messages.SUCCESS if kind == "success" else messages.ERROR, message)
            return redirect("orders")
    if is_htmx(request):
        return render(request, "broker/partials/order_form.html", {"form": form})
    return orders_page(request, form)


@login_required
@require_POST
def order_cancel_view(request, pk: int):
    order = get_object_or_404(orders_for(request.user).select_related("instrument"), pk=pk)
    status, kind = 200, "success"
    try:
        order = order_cancel(order)
        message = f"Order #{order.pk} ({order.side} {order.instrument.symbol}) is {order.get_status_display().lower()}."
    except OrderConflict as conflict:
        status, kind, message = 409, "error", conflict.reason
    except BrokerError as error:
        logger.warning("Cancelling order %s failed at the broker: %s", order.pk, error)
        status, kind, message = 502, "error", f"The broker failed to cancel order #{order.pk}: {error}"
    if is_htmx(request):
        return with_toast(HttpResponse(status=status), message, kind, "orders-changed")
    messages.add_message(request, messages.SUCCESS if status == 200 else messages.ERROR, message)
    return redirect("orders")


@login_required
@require_POST
def order_modify_view(request, pk: int):
    """A new quantity and/or limit price for a working order, checked as the API checks a PATCH."""
    order = get_object_or_404(orders_for(request.user).select_related("instrument"), pk=pk)
    incoming = OrderModifySerializer(
        data={name: request.POST[name] for name in ("quantity", "price") if request.POST.get(name)}
    )
    status, kind = 200, "success"
    if not incoming.is_valid():
        status, kind = 400, "error"
        message = " ".join(
            f"{name.capitalize()}: {' '.join(map(str, errors))}" for name, errors in incoming.errors.items()
        )
    else:
        try:
            order = order_modify(
                order,
                quantity=incoming.validated_data.get("quantity"),
                limit_price=incoming.validated_data.get("price"),
            )
            message = (
                f"Order #{order.pk} now {order.side} {order.quantity.normalize():f} {order.instrument.symbol}"
                + (f" @ {order.limit_price.normalize():f}" if order.limit_price else "")
                + "."
            )
        except OrderRefused as refusal:
            status, kind, message = refusal.http_status, "error", refusal.reason
        except BrokerError as error:
            logger.warning("Modifying order %s failed at the broker: %s", order.pk, error)
            status, kind, message = 502, "error", f"The broker failed to change order #{order.pk}: {error}"
    if is_htmx(request):
        return with_toast(HttpResponse(status=status), message, kind, "orders-changed")
    messages.add_message(request, messages.SUCCESS if status == 200 else messages.ERROR, message)
    return redirect("orders")


# --- portfolio ---------------------------------------------------------------------------------


@login_required
@require_GET
def portfolio(request):
    owner = owner_scope(request.user)
    closed = closed_trades(owner)
    currency = adapters.account_currency()
    filters = TradeFilterForm(request.GET)
    context = {
        "currency": currency,
        "statistics": {**trade_statistics(closed, currency), **r_statistics(closed)},
        "pnl_by_day": realized_pnl_by_day(closed, currency),
        "pnl_by_strategy": list(strategy_pnl(request.user, currency)),
        "filters": filters,
        "page": paginate(request, filters.filter(trades_for(request.user))),
    }
    return render(request, "broker/portfolio.html", context)


@login_required
@require_GET
def portfolio_live(request):
    """Totals, positions and risk at the broker's last prices, loaded after the page (the broker may be slow)."""
    owner = owner_scope(request.user)
    account, broker_error = None, ""
    try:
        adapter = adapters.get_adapter()
        account = adapter.account_summary()
        adapters.remember_account(account)
        refresh_marks(owner, adapter)
    except BrokerError as error:
        logger.warning("Portfolio of %s shown without the broker: %s", request.user, error)
        broker_error = str(error)
    context = {
        "account": account,
        "broker_error": broker_error,
        "summary": portfolio_summary(owner, account=account),
        "positions": position_rows(owner, account=account),
        "risk": risk_report(owner, account=account),
    }
    return render(request, "broker/partials/portfolio_live.html", context)


# --- charts ------------------------------------------------------------------------------------


@login_required
@require_GET
def chart_data(request, conid: int):
    """Bars and indicator series of a known instrument as JSON; 400 for a bad timeframe, 502 if the broker fails."""
    instrument = get_object_or_404(Instrument, conid=conid)
    try:
        return JsonResponse(chart_series(instrument, timeframe_for(request.GET.get("timeframe", DEFAULT_TIMEFRAME))))
    except ValueError as error:
        return JsonResponse({"error": str(error)}, status=400)
    except BrokerError as error:
        logger.warning("Chart data for %s unavailable: %s", instrument.symbol, error)
        return JsonResponse({"error": f"The broker could not supply bars for {instrument.symbol}: {error}"}, status=502)
