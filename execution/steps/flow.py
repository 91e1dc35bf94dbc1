"""Steps that shape the run rather than produce data: wait and condition."""

from execution.steps.base import PermanentStepError, SymbolContext, WaitRequested
from workflows.conditions import ConditionError, parse_condition


def wait(config: dict, ctx: SymbolContext) -> dict:
    """Wait `seconds`: the engine ends the step when the time is up, without holding a worker meanwhile."""
    try:
        seconds = float(config.get("seconds", 0))
    except (TypeError, ValueError) as exc:
        raise PermanentStepError(f"wait: seconds must be a number, got {config.get('seconds')!r}") from exc
    if seconds > 0:
        raise WaitRequested(seconds)
    return {"seconds": seconds, "waited_seconds": 0.0, "cancelled": False}


def condition(config: dict, ctx: SymbolContext) -> dict:
    """Evaluate the expression; the engine records the steps of the branch not taken as skipped."""
    expression = config.get("expression", "")
    try:
        value = parse_condition(expression).evaluate(ctx.values())
    except ConditionError as exc:
        raise PermanentStepError(f"condition {expression!r}: {exc}") from exc
    then_steps = list(config.get("then") or [])
    else_steps = list(config.get("else") or [])
    return {
        "expression": expression,
        "value": bool(value),
        "branch": "then" if value else "else",
        "skip_steps": else_steps if value else then_steps,
    }
