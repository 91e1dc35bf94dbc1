"""Creating and enqueueing executions: the rules checked before anything runs.

`execution_create` validates everything a request can get wrong and raises Django's
ValidationError with a message per field (the API answers 400 with them); nothing is written
unless all is well. `execution_enqueue` sends the Celery task once the row is committed.
"""

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction

from agents.calls import BudgetExceeded, check_budget, unpriced_choice_problem
from agents.providers import model_choice_problem
from agents.team_config import team_settings
from execution import dispatch
from execution.leases import lease_end
from execution.models import Schedule, WorkflowExecution
from tradingweb.access import may_see_owned
from workflows.models import Strategy, Workflow
from workflows.parameters import ParameterError, coerce_overrides, default_values, merge_parameters, resolve_config
from workflows.validation import validate_workflow


def _check_owner(owner, obj, field: str, what: str) -> None:
    if obj is None or not may_see_owned(owner, obj.owner_id):
        raise ValidationError({field: f"{what} not found"})


def _symbols_for(strategy: Strategy, requested: list[str] | None) -> list[str]:
    available = strategy.symbols
    if requested is None:
        if not available:
            raise ValidationError({"symbols": f"strategy {strategy.name!r} has no instruments to run"})
        return available
    if not isinstance(requested, list) or not requested or not all(isinstance(s, str) and s for s in requested):
        raise ValidationError({"symbols": "must be a non-empty list of symbols"})
    wanted = [symbol.strip().upper() for symbol in requested]
    unknown = [symbol for symbol in wanted if symbol not in available]
    if unknown:
        raise ValidationError(
            {
                "symbols": f"not in strategy {strategy.name!r}: {', '.join(unknown)} "
                f"(its symbols: {', '.join(available) or 'none'})"
            }
        )
    return list(dict.fromkeys(wanted))


def _check_workflow(workflow: Workflow) -> None:
    if workflow.deleted_at is not None:
        raise ValidationError({"workflow": f"workflow {workflow.name!r} was deleted"})
    if workflow.current_version is None:
        raise ValidationError({"workflow": f"workflow {workflow.name!r} has no saved version to run"})
    errors = validate_workflow(workflow.current_version.steps, workflow.current_version.parameters)
    if errors:
        details = "; ".join(f"{error.step_id or 'workflow'}.{error.field}: {error.message}" for error in errors)
        raise ValidationError({"workflow": f"workflow {workflow.name!r} is not valid: {details}"})


MODEL_STEP_TYPES = ("ai_analyze", "consolidate", "decide")


def model_choices(strategy: Strategy, steps: list[dict], params: dict) -> list[tuple[str, str]]:
    """Every (provider, model) a run of these steps may call; ("", "") is the default model."""
    if not steps:  # the legacy flow: the default model throughout
        return [("", "")]
    choices = []
    for step in steps:
        config = resolve_config(step.get("config") or {}, params)
        if step.get("type") in MODEL_STEP_TYPES:
            choices.append((str(config.get("provider") or ""), str(config.get("model") or "")))
        elif step.get("type") == "agent_team":
            team = team_settings(config, (strategy.params or {}).get("autogen_config") or {})
            choices.extend((agent.provider, agent.model) for agent in team.agents)
    return choices


def execution_create(
    *,
    owner,
    workflow: Workflow | None = None,
    strategy: Strategy | None = None,
    symbols: list[str] | None = None,
    priority: str = WorkflowExecution.Priority.NORMAL,
    dry_run: bool = False,
    params: dict | None = None,
    triggered_by: str = WorkflowExecution.Trigger.USER,
    schedule: Schedule | None = None,
) -> WorkflowExecution:
    """A pending execution of `workflow` (default: the strategy's) for the strategy's symbols."""
    _check_owner(owner, strategy, "strategy_id", "strategy")
    workflow = workflow or strategy.workflow
    if workflow is not None:
        _check_owner(owner, workflow, "workflow", "workflow")
        _check_workflow(workflow)
    if priority not in WorkflowExecution.Priority.values:
        raise ValidationError({"priority": f"must be one of {', '.join(WorkflowExecution.Priority.values)}"})
    if triggered_by not in WorkflowExecution.Trigger.values:
        raise ValidationError({"triggered_by": f"must be one of {', '.join(WorkflowExecution.Trigger.values)}"})
    if not strategy.active:
        raise ValidationError({"strategy_id": f"strategy {strategy.name!r} is not active"})
    chosen_symbols = _symbols_for(strategy, symbols)
    version = workflow.current_version if workflow else None
    try:
        if version is not None:
            merged = merge_parameters(version.parameters, strategy.params or {}, params or {})
        else:
            # A legacy strategy: its params (period_1, bar_1, …) are the flow's settings, not declared parameters.
            merged = {**default_values([]), **(strategy.params or {}), **coerce_overrides([], params or {})}
    except ParameterError as exc:
        raise ValidationError({"params": [f"{name}: {message}" for name, message in exc.errors.items()]}) from exc
    try:
        check_budget(strategy)
    except BudgetExceeded as exc:
        raise ValidationError({"strategy_id": str(exc)}) from exc
    choices = model_choices(strategy, version.steps if version else [], merged)
    not_offered = next(filter(None, (model_choice_problem(provider, model) for provider, model in choices)), None)
    if not_offered:
        raise ValidationError({"workflow": f"the run would ask a model not offered here: {not_offered}"})
    unpriced = unpriced_choice_problem(strategy, choices)
    if unpriced:
        raise ValidationError({"strategy_id": unpriced})
    return WorkflowExecution.objects.create(
        owner=strategy.owner,
        workflow=workflow,
        version=version,
        strategy=strategy,
        schedule=schedule,
        priority=priority,
        dry_run=bool(dry_run),
        symbols=chosen_symbols,
        params=merged,
        triggered_by=triggered_by,
    )


def execution_enqueue(execution: WorkflowExecution) -> str:
    """Queue the run on its priority's queue, after its owner's waiting runs, once committed; returns the task id."""
    task_id = str(uuid.uuid4())
    lease = lease_end()  # the queue answers for it until then (see execution.leases)
    WorkflowExecution.objects.filter(pk=execution.pk).update(task_id=task_id, lease_expires_at=lease)
    execution.task_id, execution.lease_expires_at = task_id, lease
    transaction.on_commit(
        lambda: dispatch.send_execution_run(
            execution.pk, queue=execution.priority, task_id=task_id, owner_id=execution.owner_id
        )
    )
    return task_id
