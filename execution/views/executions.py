"""Execution pages: the live monitor with the list of runs, the run form, one execution's detail and its partials.

Views stay thin: rows come through tradingweb.selectors (owner-scoped, others' answer 404), the
page data from execution.page_data, runs start through execution_create / execution_enqueue.
Live changes arrive over the websockets; the partials let the page re-render a section on an event.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from execution.approvals import approval_overview
from execution.forms import RunForm
from execution.models import StepRun, WorkflowExecution
from execution.page_data import (
    AGENT_LOOKS,
    OTHER_AGENT_LOOK,
    elapsed_seconds,
    execution_report,
    has_agent_team,
    progress_figures,
    symbol_timelines,
)
from execution.services import execution_create, execution_enqueue
from tradingweb import selectors

PAGE_SIZE = 25
# The service's errors about these fields show at the field; the rest (the workflow, params) above the form.
VISIBLE_RUN_FIELDS = ("strategy", "symbols", "priority", "dry_run")
# Every status a badge or a timeline step on the detail page can change to while it is open.
BADGE_STATUSES = sorted(set(WorkflowExecution.Status.values) | set(StepRun.Status.values))


def _execution_or_404(request, pk: int) -> WorkflowExecution:
    return get_object_or_404(selectors.executions_for(request.user), pk=pk)


def _monitor_row(execution: WorkflowExecution) -> dict:
    return {"execution": execution, "figures": progress_figures(execution), "elapsed": elapsed_seconds(execution)}


@login_required
@require_GET
def executions(request):
    """The live monitor of runs in progress, above every run of the trader (filterable by status)."""
    visible = selectors.executions_for(request.user)
    status = request.GET.get("status", "")
    if status and status not in WorkflowExecution.Status.values:
        messages.warning(request, f"Unknown status “{status}”: showing every execution.")
        status = ""
    listed = visible.filter(status=status) if status else visible
    active = visible.filter(status__in=selectors.QUEUED_STATUSES).order_by("created_at")
    return render(
        request,
        "execution/executions.html",
        {
            "active_rows": [_monitor_row(execution) for execution in active],
            "page": Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page")),
            "status": status,
            "statuses": WorkflowExecution.Status.choices,
        },
    )


@login_required
@require_GET
def monitor_row(request, pk: int):
    """One monitor row, for an execution the monitor socket announced and the page does not show yet."""
    return render(request, "execution/partials/monitor_row.html", {"row": _monitor_row(_execution_or_404(request, pk))})


@login_required
@require_http_methods(["GET", "POST"])
def execution_run(request):
    """Run a strategy now: pick the symbols, the priority and whether it is a dry run."""
    workflow_id = request.GET.get("workflow", "")
    strategy_id = request.GET.get("strategy", "")
    if workflow_id.isdigit() and not strategy_id:
        using = selectors.strategies_for(request.user).filter(workflow_id=workflow_id, active=True).first()
        strategy_id = str(using.pk) if using else ""
    form = RunForm(request.POST or None, user=request.user, initial={"strategy": strategy_id, "workflow": workflow_id})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                execution = execution_create(
                    owner=request.user,
                    workflow=data["workflow"],
                    strategy=data["strategy"],
                    symbols=data["symbols"] or None,
                    priority=data["priority"],
                    dry_run=data["dry_run"],
                )
                execution_enqueue(execution)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    field = "strategy" if field == "strategy_id" else field
                    form.add_error(field if field in VISIBLE_RUN_FIELDS else None, error)
        else:
            messages.success(request, f"Execution #{execution.pk} queued on the {execution.priority} lane.")
            return redirect("executions-detail", pk=execution.pk)
    chosen_workflow = str(form["workflow"].value() or "")
    return render(
        request,
        "execution/run.html",
        {
            "form": form,
            "strategy_symbols": form.strategy_symbols(),
            "workflow": form.fields["workflow"].queryset.filter(pk=chosen_workflow).first()
            if chosen_workflow.isdigit()
            else None,
            "nav_section": "executions",
        },
    )


def _detail_context(execution: WorkflowExecution) -> dict:
    return {
        "execution": execution,
        "figures": progress_figures(execution),
        "elapsed": elapsed_seconds(execution),
        "timelines": symbol_timelines(execution),
        "report": execution_report(execution),
        "agent_team": has_agent_team(execution),
        "approval": approval_overview(execution),
        "agent_looks": {"known": AGENT_LOOKS, "other": OTHER_AGENT_LOOK},
        "badge_statuses": BADGE_STATUSES,
        "nav_section": "executions",
    }


@login_required
@require_GET
def execution_detail(request, pk: int):
    return render(request, "execution/detail.html", _detail_context(_execution_or_404(request, pk)))


@login_required
@require_GET
def execution_sections(request, pk: int):
    """The detail page's results (decisions, charts, analyses, orders, logs), re-read after a step finishes."""
    return render(request, "execution/partials/results.html", _detail_context(_execution_or_404(request, pk)))


@login_required
@require_GET
def execution_approval(request, pk: int):
    """The approval panel, re-read when the execution asks for (or gets) an answer."""
    execution = _execution_or_404(request, pk)
    return render(
        request, "execution/partials/approval.html", {"execution": execution, "approval": approval_overview(execution)}
    )
