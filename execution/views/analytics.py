"""Pages of the execution app. The analytics page: how the trader's workflows, decisions and
agents have done over a chosen window."""

from datetime import timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from agents.analytics import agent_analytics
from broker.selectors import orders_for
from execution.activity import (
    COMPARED_METRICS,
    comparison_rows,
    decision_breakdown,
    execution_totals,
    executions_by_day,
)
from execution.analytics import compare_workflows
from tradingweb import selectors
from tradingweb.access import owner_scope

WINDOWS = [(7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days")]
DEFAULT_WINDOW = 30


class AnalyticsFilterForm(forms.Form):
    """The window and the workflows to compare (none chosen: every workflow that ran)."""

    days = forms.TypedChoiceField(choices=WINDOWS, coerce=int, required=False, empty_value=DEFAULT_WINDOW)
    workflows = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple(attrs={"class": "sr-only"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workflows"].queryset = selectors.workflows_for(user).order_by("name")


@login_required
@require_GET
def analytics(request):
    filters = AnalyticsFilterForm(request.GET, user=request.user)
    filters.is_valid()
    days = filters.cleaned_data.get("days") or DEFAULT_WINDOW
    chosen = filters.cleaned_data.get("workflows")
    since = timezone.now() - timedelta(days=days)
    executions = selectors.executions_for(request.user)
    compared = selectors.workflow_comparison(request.user, days=days)
    if chosen:
        compared = compared.filter(pk__in=[workflow.pk for workflow in chosen])
    compared = list(compared)
    comparison = comparison_rows(compared, compare_workflows(compared, since=since.date()))
    context = {
        "filters": filters,
        "days": days,
        "totals": execution_totals(executions.filter(created_at__gte=since)),
        "orders_placed": orders_for(request.user).filter(created_at__gte=since).count(),
        "decisions": decision_breakdown(selectors.decisions_for(request.user).filter(created_at__gte=since)),
        "by_day": executions_by_day(executions, days=days),
        "comparison": comparison,
        "comparison_columns": [{"label": "Workflow"}]
        + [{"label": metric.label, "numeric": True} for metric in COMPARED_METRICS],
        "agents": agent_analytics(owner=owner_scope(request.user)),
    }
    return render(request, "execution/analytics.html", context)
