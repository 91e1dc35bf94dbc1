"""Services that change workflows and strategies: versions, clone, delete, import/export, activation."""

import copy
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.module_loading import import_string

from broker.adapters.base import BrokerError
from broker.instruments import qualify_symbol
from broker.models import Instrument
from workflows.models import Strategy, Workflow, WorkflowVersion
from workflows.parameters import RESERVED_STRATEGY_KEYS, ParameterError, coerce_overrides
from workflows.steps import BARS, PERIODS
from workflows.templates import BUILTIN_TEMPLATES, LEGACY_KEYS
from workflows.validation import WorkflowError, activation_errors, validate_workflow

EXPORT_FORMAT = "tradingweb-workflow"
EXPORT_FORMAT_VERSION = 1
SECRET_KEY_PATTERN = re.compile(
    r"(^|_)(api_?key|secret|secret_key|password|passwd|token|access_?key|private_?key|credentials?|authorization)$",
    re.IGNORECASE,
)
URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
UNCHANGED: Any = object()


class WorkflowInvalid(Exception):
    """The workflow cannot be saved or activated; `errors` lists every reason."""

    def __init__(self, errors: list[WorkflowError]):
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))


class WorkflowInUse(Exception):
    """The workflow cannot be deleted while strategies use it."""

    def __init__(self, workflow: Workflow, strategies: list[Strategy]):
        self.workflow = workflow
        self.strategies = strategies
        names = ", ".join(strategy.name for strategy in strategies)
        super().__init__(f"Workflow {workflow.name!r} is used by {len(strategies)} strategies: {names}")


class StrategyInvalid(Exception):
    """The strategy cannot be saved; `errors` maps field name to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items()))


# --- workflows ----------------------------------------------------------------


def _header_errors(name: Any, workflow_type: Any) -> list[WorkflowError]:
    errors = []
    if not isinstance(name, str) or not name.strip():
        errors.append(WorkflowError("", "name", "is required"))
    elif len(name) > Workflow._meta.get_field("name").max_length:
        errors.append(WorkflowError("", "name", "is longer than 200 characters"))
    if workflow_type not in Workflow.Type.values:
        errors.append(WorkflowError("", "type", f"must be one of {', '.join(Workflow.Type.values)}, "
                                                f"got {workflow_type!r}"))
    return errors


def _add_version(workflow: Workflow, *, steps: list, parameters: list, user, note: str) -> WorkflowVersion:
    """Append an immutable version and make it current (the caller holds the workflow's row lock)."""
    latest = workflow.versions.aggregate(latest=Max("number"))["latest"] or 0
    version = WorkflowVersion.objects.create(
        workflow=workflow,
        number=latest + 1,
        steps=copy.deepcopy(steps),
        parameters=copy.deepcopy(parameters),
        note=note,
        created_by=user,
    )
    workflow.current_version = version
    workflow.parameters = version.parameters
    workflow.save(update_fields=["current_version", "parameters", "updated_at"])
    return version


def _locked(workflow: Workflow) -> Workflow:
    return Workflow.objects.select_for_update().get(pk=workflow.pk)


def workflow_create(
    *,
    owner,
    name: str,
    steps: list[dict],
    parameters: list[dict],
    type: str = Workflow.Type.CUSTOM,
    description: str = "",
    note: str = "",
    imported_from: str = "",
) -> Workflow:
    """A new draft workflow with its first version; raises WorkflowInvalid listing every error."""
    errors = _header_errors(name, type) + validate_workflow(steps, parameters)
    if errors:
        raise WorkflowInvalid(errors)
    with transaction.atomic():
        workflow = Workflow.objects.create(
            owner=owner,
            name=name.strip(),
            description=description or "",
            type=type,
            status=Workflow.Status.DRAFT,
            imported_from=imported_from,
        )
        _add_version(workflow, steps=steps, parameters=parameters, user=owner, note=note or "Created")
    return workflow


def workflow_update(
    *,
    workflow: Workflow,
    user,
    name: str | None = None,
    description: str | None = None,
    type: str | None = None,
    steps: list[dict] | None = None,
    parameters: list[dict] | None = None,
    status: str | None = None,
    note: str = "",
) -> Workflow:
    """Change a workflow; a new version is made only when its steps or parameters change."""
    # Compare with the stored version, not the cached one: callers may have edited its lists in place.
    current = WorkflowVersion.objects.filter(pk=workflow.current_version_id).first()
    new_steps = steps if steps is not None else (current.steps if current else [])
    new_parameters = parameters if parameters is not None else (current.parameters if current else [])
    content_changed = current is None or new_steps != current.steps or new_parameters != current.parameters
    new_name = name if name is not None else workflow.name
    new_type = type if type is not None else workflow.type
    new_status = status if status is not None else workflow.status
    errors = _header_errors(new_name, new_type)
    if new_status not in Workflow.Status.values:
        errors.append(WorkflowError("", "status", f"must be one of {', '.join(Workflow.Status.values)}"))
    if content_changed:
        errors += validate_workflow(new_steps, new_parameters)
    if not errors and new_status == Workflow.Status.ACTIVE and (content_changed or workflow.status != new_status):
        errors += activation_errors(new_steps, new_parameters, known_model_problem)
    if errors:
        raise WorkflowInvalid(errors)
    with transaction.atomic():
        locked = _locked(workflow)
        locked.name = new_name.strip()
        if description is not None:
            locked.description = description
        locked.type = new_type
        locked.status = new_status
        locked.save(update_fields=["name", "description", "type", "status", "updated_at"])
        if content_changed:
            _add_version(locked, steps=new_steps, parameters=new_parameters, user=user, note=note)
    workflow.refresh_from_db()
    return workflow


def workflow_revert(*, workflow: Workflow, number: int, user) -> Workflow:
    """A new version with the steps and parameters of version `number`, noted "Reverted from vN"."""
    old = workflow.versions.get(number=number)
    errors = validate_workflow(old.steps, old.parameters)
    if errors:
        raise WorkflowInvalid(errors)
    with transaction.atomic():
        locked = _locked(workflow)
        _add_version(locked, steps=old.steps, parameters=old.parameters, user=user, note=f"Reverted from v{number}")
    workflow.refresh_from_db()
    return workflow


def workflow_clone(*, workflow: Workflow, owner) -> Workflow:
    """A draft copy named "{name} (Copy)" with the current steps and parameters as its first version."""
    current = workflow.current_version
    return workflow_create(
        owner=owner,
        name=f"{workflow.name} (Copy)"[: Workflow._meta.get_field("name").max_length],
        steps=current.steps if current else [],
        parameters=current.parameters if current else [],
        type=workflow.type,
        description=workflow.description,
        note=f"Cloned from {workflow.name} v{workflow.version_number}",
    )


def workflow_delete(*, workflow: Workflow) -> None:
    """Soft delete; raises WorkflowInUse (listing them) while strategies use the workflow."""
    strategies = list(workflow.strategies.order_by("name"))
    if strategies:
        raise WorkflowInUse(workflow, strategies)
    workflow.deleted_at = timezone.now()
    workflow.status = Workflow.Status.ARCHIVED
    workflow.save(update_fields=["deleted_at", "status", "updated_at"])


def known_model_problem(model: str) -> str | None:
    """Why no provider offers `model`, or None, as the function settings.WORKFLOW_MODEL_CHECK names says.

    Providers are the agents' (DESIGN §1: workflows describe and do not import agents), so the
    project's settings wire the check in.
    """
    return import_string(settings.WORKFLOW_MODEL_CHECK)(model)


def workflow_activate(
    *, workflow: Workflow, model_problem: Callable[[str], str | None] = known_model_problem
) -> Workflow:
    """Mark the workflow active after validation, sane risk thresholds and a model check (`model_problem`)."""
    current = workflow.current_version
    steps = current.steps if current else []
    parameters = current.parameters if current else []
    errors = validate_workflow(steps, parameters)
    if not errors:
        errors = activation_errors(steps, parameters, model_problem)
    if errors:
        raise WorkflowInvalid(errors)
    workflow.status = Workflow.Status.ACTIVE
    workflow.save(update_fields=["status", "updated_at"])
    return workflow


def _scrub(value: Any) -> Any:
    """The value without secrets: keys that name credentials are dropped, URLs lose their user:password@."""
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items() if not SECRET_KEY_PATTERN.search(str(key))}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, str):
        return URL_CREDENTIALS.sub(r"\g<scheme>", value)
    return value


def workflow_export(*, workflow: Workflow, version: WorkflowVersion | None = None) -> dict:
    """A JSON-safe document of the workflow (current or given version), without secrets."""
    version = version or workflow.current_version
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "name": workflow.name,
        "description": workflow.description,
        "type": workflow.type,
        "version": version.number if version else None,
        "parameters": _scrub(version.parameters if version else []),
        "steps": _scrub(version.steps if version else []),
        "exported_at": timezone.now().isoformat(),
    }


def workflow_import(*, owner, data: Any, source: str = "") -> Workflow:
    """A new draft workflow from an exported document; validated like any other."""
    if not isinstance(data, dict):
        raise WorkflowInvalid([WorkflowError("", "file", "must be a JSON object exported from a workflow")])
    if data.get("format", EXPORT_FORMAT) != EXPORT_FORMAT:
        raise WorkflowInvalid([WorkflowError("", "format", f"must be {EXPORT_FORMAT!r}, got {data.get('format')!r}")])
    name = data.get("name") or "Imported workflow"
    if not source:
        version = data.get("version")
        source = f"{name} v{version}" if version else str(name)
    workflow_type = data.get("type") if data.get("type") in Workflow.Type.values else Workflow.Type.CUSTOM
    return workflow_create(
        owner=owner,
        name=name,
        steps=data.get("steps"),
        parameters=data.get("parameters", []),
        type=workflow_type,
        description=data.get("description") or "",
        note=f"Imported from {source}"[:255],
        imported_from=f"Imported from {source}"[:255],
    )


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def _field_changes(before: dict, after: dict) -> list[dict]:
    old, new = _flatten(before, ""), _flatten(after, "")
    return [
        {"field": field, "from": old.get(field), "to": new.get(field)}
        for field in sorted(set(old) | set(new))
        if old.get(field) != new.get(field)
    ]


def _by_key(items: list, key: str) -> dict:
    return {item[key]: item for item in items if isinstance(item, dict) and key in item}


def versions_diff(a: WorkflowVersion, b: WorkflowVersion) -> dict:
    """What changed from version a to version b: steps added, removed, modified (field by field), moved,
    and parameters added, removed, changed."""
    steps_a, steps_b = _by_key(a.steps, "id"), _by_key(b.steps, "id")
    modified = []
    for step_id in (step_id for step_id in steps_b if step_id in steps_a):
        changes = _field_changes(steps_a[step_id], steps_b[step_id])
        if changes:
            modified.append({"id": step_id, "changes": changes})
    common_a = [step_id for step_id in steps_a if step_id in steps_b]
    common_b = [step_id for step_id in steps_b if step_id in steps_a]
    moved = [
        {"id": step_id, "from_position": common_a.index(step_id) + 1, "to_position": common_b.index(step_id) + 1}
        for step_id in common_b
        if common_a.index(step_id) != common_b.index(step_id)
    ]
    params_a, params_b = _by_key(a.parameters, "name"), _by_key(b.parameters, "name")
    changed_parameters = []
    for name in (name for name in params_b if name in params_a):
        changes = _field_changes(params_a[name], params_b[name])
        if changes:
            changed_parameters.append({"name": name, "changes": changes})
    diff = {
        "from_version": a.number,
        "to_version": b.number,
        "steps": {
            "added": [step for step_id, step in steps_b.items() if step_id not in steps_a],
            "removed": [step for step_id, step in steps_a.items() if step_id not in steps_b],
            "modified": modified,
            "moved": moved,
        },
        "parameters": {
            "added": [parameter for name, parameter in params_b.items() if name not in params_a],
            "removed": [parameter for name, parameter in params_a.items() if name not in params_b],
            "changed": changed_parameters,
        },
    }
    diff["changed"] = any(diff["steps"].values()) or any(diff["parameters"].values())
    return diff


def install_builtin_templates(*, owner, activate: bool = False) -> list[Workflow]:
    """One workflow per built-in template for `owner`, created only where one of that name and type is missing."""
    workflows = []
    for template in BUILTIN_TEMPLATES:
        workflow = Workflow.objects.filter(
            owner=owner, name=template["name"], type=template["type"], deleted_at__isnull=True
        ).first()
        if workflow is None:
            workflow = workflow_create(
                owner=owner,
                name=template["name"],
                steps=template["steps"],
                parameters=template["parameters"],
                type=template["type"],
                description=template["description"],
                note="Created from the built-in template",
            )
        if activate and workflow.status != Workflow.Status.ACTIVE:
            workflow_activate(workflow=workflow)
        workflows.append(workflow)
    return workflows


# --- strategies ---------------------------------------------------------------


def _owned_workflow(owner, workflow: Workflow | int | None) -> Workflow | None:
    if workflow is None:
        return None
    workflow_id = workflow.pk if isinstance(workflow, Workflow) else workflow
    found = Workflow.objects.filter(pk=workflow_id, owner=owner, deleted_at__isnull=True).first()
    if found is None:
        raise StrategyInvalid({"workflow": [f"no workflow {workflow_id} of yours exists"]})
    return found


def _strategy_params(workflow: Workflow | None, params: Any) -> dict:
    """The overrides coerced to the workflow's parameter types (legacy strategies: periods and bars)."""
    if workflow is None:
        overrides = coerce_overrides([], params, allow_unknown=RESERVED_STRATEGY_KEYS | LEGACY_KEYS)
        errors = {}
        for key in sorted(LEGACY_KEYS & set(overrides)):
            known = PERIODS if key.startswith("period") else BARS
            if overrides[key] not in known:
                errors[key] = f"must be one of {', '.join(known)}, got {overrides[key]!r}"
        if errors:
            raise ParameterError(errors)
        return overrides
    parameters = workflow.current_version.parameters if workflow.current_version else []
    return coerce_overrides(parameters, params, allow_unknown=RESERVED_STRATEGY_KEYS)


def _qualify(symbol: str) -> Instrument:
    """Ask the broker for a symbol no Instrument row knows yet; ValueError says why it cannot be traded."""
    try:
        return qualify_symbol(symbol)
    except (BrokerError, LookupError) as exc:
        raise ValueError(str(exc) or f"the broker does not know {symbol}") from exc


def resolve_symbols(symbols: Iterable[str]) -> list[Instrument]:
    """Instruments for the symbols: known rows first, then the broker qualifies the rest."""
    if isinstance(symbols, str) or not isinstance(symbols, Iterable):
        raise StrategyInvalid({"symbols": ["must be a list of symbols such as [\"AAPL\", \"MSFT\"]"]})
    instruments, errors = [], []
    seen = set()
    for raw in symbols:
        symbol = raw.strip().upper() if isinstance(raw, str) else ""
        if not symbol:
            errors.append(f"{raw!r} is not a symbol")
            continue
        if symbol in seen:
            continue
        seen.add(symbol)
        instrument = Instrument.objects.filter(symbol=symbol).order_by("pk").first()
        if instrument is None:
            try:
                instrument = _qualify(symbol)
            except ValueError as exc:
                errors.append(f"{symbol}: {exc}")
                continue
        instruments.append(instrument)
    if errors:
        raise StrategyInvalid({"symbols": errors})
    return instruments


def _strategy_errors(name: Any, workflow: Workflow | None, params: Any) -> tuple[dict, dict]:
    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["is required"]
    try:
        coerced = _strategy_params(workflow, params if params is not None else {})
    except ParameterError as exc:
        errors["params"] = [f"{key}: {message}" for key, message in exc.errors.items()]
        coerced = {}
    return errors, coerced


def strategy_create(
    *,
    owner,
    name: str,
    workflow: Workflow | int | None = None,
    symbols: Iterable[str] = (),
    params: dict | None = None,
    description: str = "",
    active: bool = True,
    human_approval: bool = False,
    allow_live: bool = False,
) -> Strategy:
    """A strategy on one of the owner's workflows (None: the legacy 2-indicator flow)."""
    owned = _owned_workflow(owner, workflow)
    errors, coerced = _strategy_errors(name, owned, params)
    if errors:
        raise StrategyInvalid(errors)
    instruments = resolve_symbols(symbols)
    with transaction.atomic():
        strategy = Strategy.objects.create(
            owner=owner,
            name=name.strip(),
            description=description or "",
            workflow=owned,
            params=coerced,
            active=active,
            human_approval=human_approval,
            allow_live=allow_live,
        )
        strategy.instruments.set(instruments)
    return strategy


def strategy_update(
    *,
    strategy: Strategy,
    name: str | None = None,
    workflow: Any = UNCHANGED,
    symbols: Iterable[str] | None = None,
    params: dict | None = None,
    description: str | None = None,
    active: bool | None = None,
    human_approval: bool | None = None,
    allow_live: bool | None = None,
) -> Strategy:
    """Change a strategy; params are re-checked against its (possibly new) workflow."""
    owned = strategy.workflow if workflow is UNCHANGED else _owned_workflow(strategy.owner, workflow)
    new_name = name if name is not None else strategy.name
    errors, coerced = _strategy_errors(new_name, owned, params if params is not None else strategy.params)
    if errors:
        raise StrategyInvalid(errors)
    instruments = resolve_symbols(symbols) if symbols is not None else None
    with transaction.atomic():
        strategy.name = new_name.strip()
        strategy.workflow = owned
        strategy.params = coerced
        for field, value in (
            ("description", description),
            ("active", active),
            ("human_approval", human_approval),
            ("allow_live", allow_live),
        ):
            if value is not None:
                setattr(strategy, field, value)
        strategy.save()
        if instruments is not None:
            strategy.instruments.set(instruments)
    return strategy
