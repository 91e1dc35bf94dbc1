"""The foundation pages: dashboard, one list page per section, the API token page.

Each view loads rows through tradingweb.selectors (owner-scoped) and renders; later pages may
replace the view behind a URL name without touching the navigation.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from broker.models import Order
from execution.models import WorkflowExecution
from tradingweb import selectors
from tradingweb.forms import LoginForm
from tradingweb.tokens import rotate_token

PAGE_SIZE = 50


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


class TraderLoginView(LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True


@login_required
def dashboard(request):
    return render(request, "tradingweb/dashboard.html", selectors.dashboard_data(request.user))


@login_required
def dashboard_account(request):
    """The account card, loaded by htmx after the page so a slow broker never delays the dashboard."""
    return render(request, "tradingweb/partials/account_card.html", {"account": selectors.account_overview()})


@login_required
def executions(request):
    executions = selectors.executions_for(request.user)
    status = request.GET.get("status", "")
    if status and status not in WorkflowExecution.Status.values:
        messages.warning(request, f"Unknown status “{status}”: showing every execution.")
        status = ""
    if status:
        executions = executions.filter(status=status)
    return render(
        request,
        "tradingweb/executions.html",
        {"page": paginate(request, executions), "status": status, "statuses": WorkflowExecution.Status.choices},
    )


@login_required
def tasks(request):
    return render(request, "tradingweb/tasks.html", {"lanes": selectors.task_queue(request.user)})


@login_required
def schedules(request):
    return render(request, "tradingweb/schedules.html", {"schedules": selectors.schedules_for(request.user)})


@login_required
def analytics(request):
    context = {
        "days": 30,
        "workflows": selectors.workflow_comparison(request.user, days=30),
        "strategy_pnl": selectors.strategy_pnl(request.user),
        "decisions": selectors.decision_totals(request.user),
    }
    return render(request, "tradingweb/analytics.html", context)


@login_required
def orders(request):
    orders = selectors.orders_for(request.user)
    context = {
        "open_orders": orders.filter(status__in=Order.OPEN_STATUSES),
        "page": paginate(request, orders.exclude(status__in=Order.OPEN_STATUSES)),
    }
    return render(request, "tradingweb/orders.html", context)


@login_required
def portfolio(request):
    context = {
        "positions": selectors.positions_for(request.user).exclude(quantity=0),
        "totals": selectors.portfolio_totals(request.user),
        "trades": selectors.trades_for(request.user).filter(exit_at__isnull=False).order_by("-exit_at")[:20],
    }
    return render(request, "tradingweb/portfolio.html", context)


@login_required
def charts(request):
    return render(request, "tradingweb/charts.html", {"charts": selectors.charts_for(request.user)[:24]})


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request):
    """GET shows the user's API token; POST issues a new one (the old key stops working at once)."""
    if request.method == "POST":
        had_token = Token.objects.filter(user=request.user).exists()
        rotate_token(request.user)
        messages.success(request, "Token rotated: the old key no longer works." if had_token else "API token created.")
        return redirect("api-token-page")
    return render(request, "tradingweb/api_token.html", {"token": Token.objects.filter(user=request.user).first()})
