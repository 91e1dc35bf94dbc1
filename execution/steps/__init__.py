"""The step implementations, found by type name.

Each maps `(config, ctx) -> output dict` (see execution/steps/base.py). The config schema of
each type lives in workflows/steps.py; adding a step type touches that catalogue and this map.
"""

from collections.abc import Callable

from execution.steps.agent_team import agent_team
from execution.steps.ai import ai_analyze, consolidate, decide
from execution.steps.base import PermanentStepError, SymbolContext
from execution.steps.code import custom_code
from execution.steps.data import fetch_data, generate_chart
from execution.steps.flow import condition, wait
from execution.steps.orders import place_order
from execution.steps.risk import validate_risk

StepFunction = Callable[[dict, SymbolContext], dict]

STEP_IMPLEMENTATIONS: dict[str, StepFunction] = {
    "fetch_data": fetch_data,
    "generate_chart": generate_chart,
    "ai_analyze": ai_analyze,
    "consolidate": consolidate,
    "decide": decide,
    "agent_team": agent_team,
    "validate_risk": validate_risk,
    "place_order": place_order,
    "wait": wait,
    "condition": condition,
    "custom_code": custom_code,
}


def get_step(step_type: str) -> StepFunction:
    try:
        return STEP_IMPLEMENTATIONS[step_type]
    except KeyError:
        raise PermanentStepError(f"unknown step type {step_type!r}; known: {', '.join(STEP_IMPLEMENTATIONS)}") from None
