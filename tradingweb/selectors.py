"""What the pages read: every query scoped to its viewer (traders see their own rows, staff see all)."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from broker.adapters import get_adapter, remember_account, remembered_account
from broker.models import Chart
from broker.pnl_history import realized_pnl_by_day
from broker.portfolio import open_position_totals, realized_in_account
from broker.selectors import positions_for, trades_for
from execution.models import Decision, Schedule, StepRun, WorkflowExecution
from tradingweb.access import owner_scope
from workflows.models import Strategy, Workflow

logger = logging.getLogger(__name__)

QUEUED_STATUSES = (
    WorkflowExecution.Status.PENDING,
    WorkflowExecution.Status.RUNNING,
    WorkflowExecution.Status.AWAITING_APPROVAL,
)


def strategies_for(user) -> QuerySet:
    return Strategy.objects.select_related("workflow", "owner").prefetch_related("instruments").visible_to(user)


def workflows_for(user) -> QuerySet:
    workflows = Workflow.objects.filter(deleted_at__isnull=True).select_related("current_version", "owner")
    return workflows.visible_to(user).annotate(strategy_count=Count("strategies", distinct=True))


def executions_for(user) -> QuerySet:
    return WorkflowExecution.objects.select_related("workflow", "strategy", "version", "owner").visible_to(user)


def decisions_for(user) -> QuerySet:
    decisions = Decision.objects.select_related("instrument", "strategy", "execution").prefetch_related("orders")
    return decisions.visible_to(user)


def schedules_for(user) -> QuerySet:
    return Schedule.objects.select_related("workflow", "strategy", "owner").visible_to(user)


def charts_for(user) -> QuerySet:
    return Chart.objects.select_related("instrument").visible_to(user)


def chart_for_viewer(user, pk: int) -> Chart | None:
    """The chart if the user may see its image: one of charts_for(user), or one their own executions drew."""
    chart = charts_for(user).filter(pk=pk).first()
    if chart is not None:
        return chart
    drawn = StepRun.objects.visible_to(user).filter(step_type="generate_chart", output__chart_id=pk)
    return Chart.objects.filter(pk=pk).first() if drawn.exists() else None


@dataclass(frozen=True)
class AccountOverview:
    """The broker account's summary, or why it could not be read, with the viewer's realized change today.

    `day_change` is None unless a trade of the viewer's closed today: the broker's summary carries no
    previous close and no history of open positions' values is kept, so a day without closed trades
    has no change we could state honestly.
    """

    summary: object | None  # broker.adapters.AccountSummary
    error: str = ""
    day_change: Decimal | None = None


def _start_of_today():
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)


def realized_pnl_today(user, currency: str | None) -> Decimal | None:
    """Realized P&L in the account's `currency` of the viewer's trades closed since 00:00 UTC (the P&L
    history's today); None when none closed."""
    today = realized_pnl_by_day(trades_for(user).filter(exit_at__gte=_start_of_today()), currency)
    return today[-1]["pnl"] if today else None


def account_overview(user) -> AccountOverview:
    """Asks the configured broker adapter for the account summary; any failure becomes a message to show."""
    try:
        summary = get_adapter().account_summary()
    except Exception as exc:  # The dashboard must render whatever state the broker is in.
        logger.warning("Account summary unavailable: %s: %s", type(exc).__name__, exc)
        return AccountOverview(summary=None, error=str(exc) or type(exc).__name__)
    remember_account(summary)
    return AccountOverview(summary=summary, day_change=realized_pnl_today(user, summary.currency))


@dataclass(frozen=True)
class PortfolioTotals:
    """The dashboard's totals in the account's currency, at the exchange rates of the broker's last account
    summary (the account card asks for one on every dashboard load), so the page itself never waits for
    the broker. A total is None while an amount in it has no rate, or before the broker was first asked."""

    open_positions: int
    market_value: Decimal | None
    unrealized_pnl: Decimal | None
    # Every closed trade's to date, each at its own rate.
    realized_pnl: Decimal | None
    missing_rates: list[str]


def portfolio_totals(user) -> PortfolioTotals:
    account = remembered_account()
    positions = open_position_totals(owner_scope(user), account=account)
    return PortfolioTotals(
        open_positions=positions["open_positions"],
        market_value=positions["positions_value"],
        unrealized_pnl=positions["unrealized_pnl"],
        realized_pnl=realized_in_account(
            trades_for(user).filter(exit_at__isnull=False), account.currency if account else None
        ),
        missing_rates=positions["missing_rates"],
    )


def dashboard_data(user) -> dict:
    return {
        "active_strategies": strategies_for(user).filter(active=True).count(),
        "active_workflows": workflows_for(user).filter(status=Workflow.Status.ACTIVE).count(),
        "running_executions": executions_for(user).filter(status__in=QUEUED_STATUSES).count(),
        "recent_executions": executions_for(user)[:6],
        "recent_decisions": decisions_for(user)[:6],
        "open_positions": positions_for(user).exclude(quantity=0).order_by("-unrealized_pnl")[:5],
        "recent_trades": trades_for(user)[:5],
        "totals": portfolio_totals(user),
    }


def workflow_comparison(user, days: int = 30) -> QuerySet:
    """Per workflow over the last `days`: runs, outcomes, decisions by type and orders placed."""
    since = timezone.now() - timedelta(days=days)
    recent = Q(executions__created_at__gte=since)

    def runs(**extra):
        return Count("executions", filter=recent & Q(**extra), distinct=True)

    def decisions(kind):
        return Count("executions__decisions", filter=recent & Q(executions__decisions__type=kind), distinct=True)

    return (
        workflows_for(user)
        .annotate(
            runs=runs(),
            completed=runs(executions__status=WorkflowExecution.Status.COMPLETED),
            failed=runs(executions__status=WorkflowExecution.Status.FAILED),
            buys=decisions(Decision.Type.BUY),
            sells=decisions(Decision.Type.SELL),
            holds=decisions(Decision.Type.HOLD),
            orders=Count("executions__orders", filter=recent, distinct=True),
            last_run=Max("executions__created_at"),
        )
        .filter(runs__gt=0)
        .order_by("-runs", "name")
    )
