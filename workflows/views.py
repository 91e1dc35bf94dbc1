"""Pages of workflows and strategies: load the viewer's rows, call one service, render or redirect.

The builder itself saves and validates through the API (/api/workflows/...), so the server's
validation stays the only judge of a workflow.
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import Http404, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from broker.models import Instrument
from tradingweb.access import visible_or_404
from workflows import services
from workflows.forms import (
    NewWorkflowForm,
    StrategyForm,
    WorkflowImportForm,
    add_service_errors,
    workflow_parameter_options,
)
from workflows.models import Strategy, Workflow
from workflows.parameters import BUILTIN_PARAMETERS
from workflows.steps import step_catalogue
from workflows.templates import BUILTIN_TEMPLATES, TEMPLATES_BY_TYPE

# --- lookups ------------------------------------------------------------------


def _workflows(user) -> QuerySet:
    return Workflow.objects.filter(deleted_at__isnull=True).select_related("current_version", "owner").visible_to(user)


def _workflow_or_404(request, pk: int) -> Workflow:
    return get_object_or_404(_workflows(request.user), pk=pk)


def _strategy_or_404(request, pk: int) -> Strategy:
    return visible_or_404(request.user, Strategy.objects.select_related("workflow", "owner"), pk=pk)


def _with_last_execution(strategies: QuerySet) -> QuerySet:
    """Strategies annotated with their latest execution's id, status and time (last_execution_id, _status, _at)."""
    # Through the reverse relation's name, so workflows never imports execution (DESIGN §1).
    latest = Strategy.objects.filter(pk=OuterRef("pk"), executions__isnull=False).order_by("-executions__created_at")
    return strategies.prefetch_related("instruments").annotate(
        last_execution_id=Subquery(latest.values("executions__pk")[:1]),
        last_execution_status=Subquery(latest.values("executions__status")[:1]),
        last_execution_at=Subquery(latest.values("executions__created_at")[:1]),
    )


# --- workflows ----------------------------------------------------------------


@login_required
def workflow_list(request):
    workflows = _workflows(request.user).annotate(strategy_count=Count("strategies", distinct=True))
    return render(
        request,
        "workflows/workflow_list.html",
        {"workflows": workflows, "import_form": WorkflowImportForm()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def workflow_new(request):
    """The template gallery: pick a template, name the workflow, land in the builder."""
    form = NewWorkflowForm(request.POST or None, initial={"template": "two_indicator"})
    if request.method == "POST" and form.is_valid():
        template = TEMPLATES_BY_TYPE[form.cleaned_data["template"]]
        try:
            workflow = services.workflow_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                steps=template["steps"],
                parameters=template["parameters"],
                type=template["type"],
                description=template["description"],
                note=f"Created from the {template['name']} template",
            )
        except services.WorkflowInvalid as exc:
            for error in exc.errors:
                form.add_error(
                    "name" if error.field == "name" else None, error.message if error.field == "name" else str(error)
                )
        else:
            messages.success(request, f"Workflow “{workflow.name}” created from the {template['name']} template.")
            return redirect("workflows-builder", pk=workflow.pk)
    return render(request, "workflows/workflow_new.html", {"form": form, "templates": BUILTIN_TEMPLATES})


@login_required
@require_http_methods(["GET", "POST"])
def workflow_import(request):
    form = WorkflowImportForm(request.POST or None, request.FILES or None)
    errors = []
    if request.method == "POST" and form.is_valid():
        upload = request.FILES["file"]
        try:
            workflow = services.workflow_import(owner=request.user, data=form.cleaned_data["file"], source=upload.name)
        except services.WorkflowInvalid as exc:
            errors = exc.errors
        else:
            messages.success(request, f"Imported “{workflow.name}” as a new draft.")
            return redirect("workflows-builder", pk=workflow.pk)
    return render(request, "workflows/workflow_import.html", {"form": form, "workflow_errors": errors})


@login_required
def workflow_builder(request, pk: int):
    workflow = _workflow_or_404(request, pk)
    definition = {
        "id": workflow.pk,
        "name": workflow.name,
        "description": workflow.description,
        "type": workflow.type,
        "status": workflow.status,
        "version": workflow.version_number,
        "steps": workflow.steps,
        "parameters": workflow.current_version.parameters if workflow.current_version else [],
    }
    urls = {
        "detail": reverse("workflow-detail", args=[workflow.pk]),
        "activate": reverse("workflow-activate", args=[workflow.pk]),
        "validate": reverse("workflow-validate"),
        "versions": reverse("workflows-history", args=[workflow.pk]),
    }
    builder_data = {
        "definition": definition,
        "catalogue": step_catalogue(),
        "builtins": BUILTIN_PARAMETERS,
        "urls": urls,
        "csrf": get_token(request),
        "icon_url": static("build/icons.svg"),
    }
    context = {
        "workflow": workflow,
        "builder_data": builder_data,
        "catalogue": builder_data["catalogue"],
        "types": Workflow.Type.choices,
        "strategies": _with_last_execution(workflow.strategies.all()),
        "nav_section": "workflows",
    }
    return render(request, "workflows/workflow_builder.html", context)


@login_required
@require_POST
def workflow_clone(request, pk: int):
    workflow = _workflow_or_404(request, pk)
    try:
        clone = services.workflow_clone(workflow=workflow, owner=request.user)
    except services.WorkflowInvalid as exc:
        messages.error(request, f"Could not clone “{workflow.name}”: {exc}")
        return redirect("workflows-builder", pk=workflow.pk)
    messages.success(request, f"Cloned as “{clone.name}”, a new draft.")
    return redirect("workflows-builder", pk=clone.pk)


@login_required
@require_POST
def workflow_delete(request, pk: int):
    workflow = _workflow_or_404(request, pk)
    try:
        services.workflow_delete(workflow=workflow)
    except services.WorkflowInUse as exc:
        messages.error(request, f"{exc}. Point those strategies at another workflow first.")
        return redirect("workflows-builder", pk=workflow.pk)
    messages.success(request, f"Workflow “{workflow.name}” deleted.")
    return redirect("workflows")


@login_required
def workflow_export(request, pk: int):
    workflow = _workflow_or_404(request, pk)
    document = services.workflow_export(workflow=workflow)
    response = JsonResponse(document, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="workflow-{workflow.pk}-v{document["version"]}.json"'
    return response


def _shown(value) -> str:
    """A changed value as the diff prints it: text as is, other values as JSON, absent as a dash."""
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _diff_rows(items: list[dict], key: str, marked: dict[str, str], changes: dict[str, list]) -> list[dict]:
    """One side of the side-by-side diff: each step (or parameter) with how it changed."""
    return [
        {
            "item": item,
            "change": marked.get(item.get(key), "unchanged"),
            "changes": [
                {"field": change["field"], "before": _shown(change["from"]), "after": _shown(change["to"])}
                for change in changes.get(item.get(key), [])
            ],
        }
        for item in items
        if isinstance(item, dict)
    ]


def side_by_side(before, after) -> dict:
    """The two versions' steps and parameters in columns, each marked added, removed, modified or unchanged."""
    diff = services.versions_diff(before, after)
    step_changes = {entry["id"]: entry["changes"] for entry in diff["steps"]["modified"]}
    moved = {entry["id"]: entry for entry in diff["steps"]["moved"]}
    removed = {step["id"]: "removed" for step in diff["steps"]["removed"]}
    added = {step["id"]: "added" for step in diff["steps"]["added"]}
    modified = dict.fromkeys(step_changes, "modified")
    parameter_changes = {entry["name"]: entry["changes"] for entry in diff["parameters"]["changed"]}
    changed_parameters = dict.fromkeys(parameter_changes, "modified")
    columns = {
        "before_steps": _diff_rows(before.steps, "id", {**removed, **modified}, step_changes),
        "after_steps": _diff_rows(after.steps, "id", {**added, **modified}, step_changes),
        "before_parameters": _diff_rows(
            before.parameters,
            "name",
            {**{p["name"]: "removed" for p in diff["parameters"]["removed"]}, **changed_parameters},
            parameter_changes,
        ),
        "after_parameters": _diff_rows(
            after.parameters,
            "name",
            {**{p["name"]: "added" for p in diff["parameters"]["added"]}, **changed_parameters},
            parameter_changes,
        ),
    }
    for row in columns["after_steps"]:
        row["moved"] = moved.get(row["item"].get("id"))
    return {"diff": diff, **columns}


def _version_number(request, name: str, default: int | None) -> int | None:
    raw = request.GET.get(name, "")
    if not raw:
        return default
    if not raw.isdigit():
        raise Http404(f"{name} must be a version number")
    return int(raw)


@login_required
def workflow_versions(request, pk: int):
    """Every version, and a side-by-side diff of two of them (?a=&b=; default: the last two)."""
    workflow = _workflow_or_404(request, pk)
    versions = list(workflow.versions.select_related("created_by").order_by("-number"))
    for newer, older in zip(versions, versions[1:], strict=False):
        newer.previous_number = older.number
    context = {"workflow": workflow, "versions": versions, "nav_section": "workflows"}
    if len(versions) >= 2:
        number_a = _version_number(request, "a", versions[1].number)
        number_b = _version_number(request, "b", versions[0].number)
        before = get_object_or_404(workflow.versions, number=number_a)
        after = get_object_or_404(workflow.versions, number=number_b)
        context.update(before=before, after=after, **side_by_side(before, after))
    return render(request, "workflows/workflow_versions.html", context)


@login_required
@require_POST
def workflow_revert(request, pk: int, number: int):
    workflow = _workflow_or_404(request, pk)
    get_object_or_404(workflow.versions, number=number)
    try:
        services.workflow_revert(workflow=workflow, number=number, user=request.user)
    except services.WorkflowInvalid as exc:
        messages.error(request, f"Version {number} no longer passes validation, so it was not restored: {exc}")
    else:
        messages.success(request, f"Reverted to v{number}: saved as v{workflow.version_number}.")
    return redirect("workflows-history", pk=workflow.pk)


# --- strategies ---------------------------------------------------------------


@login_required
def strategy_list(request):
    strategies = _with_last_execution(Strategy.objects.select_related("workflow", "owner").visible_to(request.user))
    has_workflows = _workflows(request.user).exists()
    return render(request, "workflows/strategy_list.html", {"strategies": strategies, "has_workflows": has_workflows})


def _strategy_form_page(request, form: StrategyForm, strategy: Strategy | None):
    workflow_options = workflow_parameter_options(form.fields["workflow"].queryset)
    symbols = form["symbols"].value()
    form_data = {
        "workflows": workflow_options,
        "selected": str(form["workflow"].value() or ""),
        "overrides": form.overrides_shown(),
        "parameter_errors": form.parameter_errors(),
        "symbols": symbols if isinstance(symbols, str) else "",
    }
    context = {
        "form": form,
        "strategy": strategy,
        "form_data": form_data,
        "workflow_options": workflow_options,
        "known_symbols": Instrument.objects.order_by("symbol").values_list("symbol", flat=True).distinct()[:500],
        "nav_section": "strategies",
    }
    return render(request, "workflows/strategy_form.html", context)


def _save_strategy(request, form: StrategyForm, strategy: Strategy | None) -> Strategy | None:
    """Calls the service; on refusal puts its errors on the form and returns None."""
    data = form.cleaned_data
    fields = {
        "name": data["name"],
        "workflow": data["workflow"],
        "symbols": data["symbols"],
        "params": form.service_params(),
        "description": data["description"],
        "active": data["active"],
        "human_approval": data["human_approval"],
        "allow_live": data["allow_live"],
    }
    try:
        if strategy is None:
            return services.strategy_create(owner=request.user, **fields)
        return services.strategy_update(strategy=strategy, **fields)
    except services.StrategyInvalid as exc:
        add_service_errors(form, exc.errors)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def strategy_create(request):
    form = StrategyForm(
        request.POST or None, owner=request.user, initial={"workflow": request.GET.get("workflow"), "active": True}
    )
    if request.method == "POST" and form.is_valid():
        strategy = _save_strategy(request, form, None)
        if strategy is not None:
            messages.success(request, f"Strategy “{strategy.name}” created.")
            return redirect("strategies")
    return _strategy_form_page(request, form, None)


@login_required
@require_http_methods(["GET", "POST"])
def strategy_edit(request, pk: int):
    strategy = _strategy_or_404(request, pk)
    form = StrategyForm(request.POST or None, owner=strategy.owner, strategy=strategy)
    if request.method == "POST" and form.is_valid():
        saved = _save_strategy(request, form, strategy)
        if saved is not None:
            messages.success(request, f"Strategy “{saved.name}” saved.")
            return redirect("strategies")
    return _strategy_form_page(request, form, strategy)


@login_required
@require_POST
def strategy_delete(request, pk: int):
    strategy = _strategy_or_404(request, pk)
    strategy.delete()
    messages.success(request, f"Strategy “{strategy.name}” deleted. Its past executions and orders are kept.")
    return redirect("strategies")
