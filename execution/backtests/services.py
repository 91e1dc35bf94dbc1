"""Creating, estimating and cancelling backtests: the rules checked before anything runs.

`backtest_create` raises django ValidationError with field errors (the API answers 400) for an
empty range, a start after the end, a range before the simulated market's data or not yet over,
a workflow without fetch_data, an agent_team workflow (not backtested), an unknown model, or a
real model whose estimated cost (calls × tokens × price) is above the strategy's daily budget.
"""

import uuid
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agents.calls import call_cost, get_model_client
from agents.clients import ModelError
from broker.simulation import ORIGIN
from broker.timeframes import period_start
from execution import dispatch, leases, progress
from execution.backtests.calendar import MAX_POINTS, decision_points, every_error
from execution.models import Backtest
from execution.services import MODEL_STEP_TYPES, _check_owner, _check_workflow
from workflows.models import Strategy, Workflow
from workflows.parameters import merge_parameters, resolve_config
from workflows.steps import STEP_TYPES

ESTIMATED_PROMPT_TOKENS = 1500  # an analysis prompt with its indicator summaries, about 6 000 characters
DATA_START = ORIGIN.astype(date)


def _range_errors(start: date, end: date, every: str, steps: list[dict], params: dict) -> dict[str, str]:
    if start > end:
        return {"start": f"the start {start} is after the end {end}"}
    if end >= timezone.now().date():
        return {"end": f"the range must be over: end before today ({timezone.now().date()})"}
    if start < DATA_START:
        return {"start": f"the market data starts on {DATA_START}: start then or later"}
    error = every_error(every)
    if error:
        return {"every": error}
    points = decision_points(start, end, every)
    if not points:
        return {"end": f"no decision point between {start} and {end} for every={every!r}"}
    if len(points) > MAX_POINTS:
        return {"end": f"more than {MAX_POINTS} decision points; shorten the range or decide less often"}
    for step in steps:
        if step.get("type") == "fetch_data":
            period = resolve_config(step.get("config") or {}, params).get("period") or ""
            first_needed = period_start(points[0], period).date()
            if first_needed < DATA_START:
                return {"start": f"the market data starts on {DATA_START}; {period} of bars before {start} reach "
                                 f"back to {first_needed}: start later"}  # fmt: skip
    return {}


def _steps_errors(steps: list[dict]) -> dict[str, str]:
    types = {step.get("type") for step in steps}
    if "fetch_data" not in types:
        return {"workflow": "the workflow has no fetch_data step: a backtest needs bars to decide on"}
    if "agent_team" in types:
        return {"workflow": "agent_team workflows are not backtested yet; use decide steps"}
    return {}


def estimated_cost(model: str, steps: list[dict], params: dict, calls_per_step: int) -> Decimal | None:
    """USD the backtest may spend at most on models (0 for the offline analyst; None: a model without a price)."""
    total = Decimal("0")
    for step in steps:
        if step.get("type") not in MODEL_STEP_TYPES:
            continue
        config = STEP_TYPES[step["type"]].with_defaults(resolve_config(step.get("config") or {}, params))
        client = get_model_client(model or config.get("model"), "" if model else str(config.get("provider") or ""))
        max_tokens = int(config.get("max_tokens") or 2000)
        cost = call_cost(client.provider, client.model, ESTIMATED_PROMPT_TOKENS, max_tokens)
        if cost is None:
            return None
        total += cost * calls_per_step
    return total


def backtest_create(
    *, owner, workflow: Workflow, strategy: Strategy | None, start: date, end: date, every: str, model: str,
    initial_cash: Decimal, commission: Decimal, slippage_bps: Decimal,
) -> Backtest:  # fmt: skip
    _check_owner(owner, workflow, "workflow", "workflow")
    _check_owner(owner, strategy, "strategy_id", "strategy")
    _check_workflow(workflow)
    if not strategy.symbols:
        raise ValidationError({"strategy_id": f"strategy {strategy.name!r} has no instruments to backtest"})
    version = workflow.current_version
    params = merge_parameters(version.parameters, strategy.params or {}, {})
    errors = _steps_errors(version.steps) or _range_errors(start, end, every, version.steps, params)
    if errors:
        raise ValidationError(errors)
    calls_per_step = len(decision_points(start, end, every)) * len(strategy.symbols)
    try:
        estimate = estimated_cost(model, version.steps, params, calls_per_step)
    except ModelError as exc:
        raise ValidationError({"model": str(exc)}) from exc
    budget = strategy.daily_cost_budget
    if budget is not None and estimate is None:
        raise ValidationError({"model": "the model has no known price and the strategy has a cost budget"})
    if budget is not None and estimate > budget:
        raise ValidationError(
            {"model": f"the backtest may cost up to ${estimate:.4f}, above strategy {strategy.name!r}'s budget "
                      f"of ${budget}; shorten the range, decide less often or pick a cheaper model"}
        )  # fmt: skip
    return Backtest.objects.create(
        owner=strategy.owner, workflow=workflow, version=version, strategy=strategy, symbols=list(strategy.symbols),
        start=start, end=end, every=every, model=model, initial_cash=initial_cash, commission=commission,
        slippage_bps=slippage_bps, estimated_cost=estimate,
        progress={"points_done": 0, "points_total": calls_per_step // len(strategy.symbols)},
    )  # fmt: skip


def backtest_enqueue(backtest: Backtest) -> str:
    """Queue the backtest on the low queue once its row is committed; returns the task id.

    The queue answers for it for a lease (execution.leases): past it, the recovery sweep checks on it."""
    task_id = str(uuid.uuid4())
    lease = leases.lease_end()
    Backtest.objects.filter(pk=backtest.pk).update(task_id=task_id, lease_expires_at=lease)
    backtest.task_id, backtest.lease_expires_at = task_id, lease
    transaction.on_commit(lambda: dispatch.send_backtest_run(backtest.pk, task_id=task_id))
    return task_id


def backtest_cancel(backtest: Backtest) -> Backtest:
    """Ask a backtest to stop: a pending one is cancelled at once; a running one stops before its next point,
    keeping the points it computed. A finished one is left as it is."""
    if backtest.is_finished():
        return backtest
    Backtest.objects.filter(pk=backtest.pk).update(cancel_requested=True)
    cancelled_now = Backtest.objects.filter(pk=backtest.pk, status=Backtest.Status.PENDING).update(
        status=Backtest.Status.CANCELLED, completed_at=timezone.now(),
        results={"partial": True, "points_done": 0, "note": "Cancelled before it started"},
    )  # fmt: skip
    backtest.refresh_from_db()
    if cancelled_now:  # its task, when it comes, finds it cancelled and does nothing
        progress.backtest_progress(backtest)
    return backtest
