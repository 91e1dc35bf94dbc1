"""Steps that shape the run rather than produce data: wait and condition."""

import time

from execution.steps.base import PermanentStepError, SymbolContext
from workflows.conditions import ConditionError, parse_condition

CANCEL_CHECK_SECONDS = 0.5


def sleep_unless_cancelled(execution, seconds: float) -> bool:
    """Sleep in short slices, stopping early when the execution's cancel flag is set; True if it slept fully."""
    deadline = time.monotonic() + max(0.0, float(seconds))
    while True:
        if execution.cancel_was_requested():
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        time.sleep(min(CANCEL_CHECK_SECONDS, remaining))


def wait(config: dict, ctx: SymbolContext) -> dict:
    try:
        seconds = float(config.get("seconds", 0))
    except (TypeError, ValueError) as exc:
        raise PermanentStepError(f"wait: seconds must be a number, got {config.get('seconds')!r}") from exc
    started = time.monotonic()
    completed = sleep_unless_cancelled(ctx.execution, seconds)
    return {"seconds": seconds, "waited_seconds": round(time.monotonic() - started, 3), "cancelled": not completed}


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
