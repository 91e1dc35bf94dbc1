"""The built-in workflow templates and the steps of legacy strategies that have no workflow."""

from workflows.diagram import step_diagram
from workflows.steps import BARS, INDICATORS, PERIODS, STEP_TYPES

TIMEFRAME_NAMES = {"1d": "daily", "1w": "weekly", "1M": "monthly", "1h": "hourly"}
LEGACY_DEFAULTS = {"period_1": "1y", "bar_1": "1d", "period_2": "1y", "bar_2": "1w"}
LEGACY_KEYS = set(LEGACY_DEFAULTS)

ANALYSIS_PARAMETERS = [
    {"name": "model", "type": "string", "default": "", "description": "Model of every AI step; empty: the default."},
    {"name": "risk_per_trade", "type": "number", "default": 0.01, "description": "Share of equity risked per trade."},
    {"name": "min_r_coefficient", "type": "number", "default": 1.0, "description": "Least reward-to-risk accepted."},
    {"name": "order_type", "type": "string", "default": "LMT", "description": "LMT or MKT.", "choices": ["LMT", "MKT"]},
]
# Literal values used where a workflow declares no parameters (legacy strategies).
LITERAL_SETTINGS = {"model": "", "risk_per_trade": 0.01, "min_r_coefficient": 1.0, "order_type": "LMT"}
PARAMETER_SETTINGS = {name: f"{{{{{name}}}}}" for name in LITERAL_SETTINGS}


def _fetch(label: str, period: str, bar: str) -> dict:
    return {
        "id": f"fetch_{label}",
        "type": "fetch_data",
        "name": f"Fetch {label} bars ({period}/{bar})",
        "config": {"label": label, "period": period, "bar": bar, "indicators": list(INDICATORS)},
    }


def _chart(label: str) -> dict:
    return {
        "id": f"chart_{label}",
        "type": "generate_chart",
        "name": f"Chart {label}",
        "config": {"label": label, "source": label, "indicators": list(INDICATORS)},
    }


def _analyze(label: str, settings: dict) -> dict:
    return {
        "id": f"analyze_{label}",
        "type": "ai_analyze",
        "name": f"Analyze {label} chart",
        "config": {"label": label, "input": label, "prompt_template": "", "model": settings["model"]},
    }


def _risk_and_order(settings: dict) -> list[dict]:
    risk_config = STEP_TYPES["validate_risk"].defaults
    risk_config.update(risk_per_trade=settings["risk_per_trade"], min_r_coefficient=settings["min_r_coefficient"])
    return [
        {"id": "validate_risk", "type": "validate_risk", "name": "Validate risk", "config": risk_config},
        {
            "id": "place_order",
            "type": "place_order",
            "name": "Place order",
            "config": {"order_type": settings["order_type"], "tif": "DAY"},
        },
    ]


def _decide(input_label: str, settings: dict) -> dict:
    return {
        "id": "decide",
        "type": "decide",
        "name": "Decide",
        "config": {"input": input_label, "prompt_template": "", "model": settings["model"]},
    }


def multi_timeframe_steps(timeframes: list[tuple[str, str, str]], settings: dict) -> list[dict]:
    """Fetch, chart and analyze each (label, period, bar); consolidate when more than one; decide; risk; order."""
    steps = [_fetch(*timeframe) for timeframe in timeframes]
    steps += [_chart(label) for label, _, _ in timeframes]
    steps += [_analyze(label, settings) for label, _, _ in timeframes]
    labels = [label for label, _, _ in timeframes]
    if len(labels) > 1:
        steps.append({
            "id": "consolidate",
            "type": "consolidate",
            "name": "Consolidate timeframes",
            "config": {"label": "consolidated", "inputs": labels, "prompt_template": "", "model": settings["model"]},
        })
        steps.append(_decide("consolidated", settings))
    else:
        steps.append(_decide(labels[0], settings))
    return steps + _risk_and_order(settings)


def _agent_team_steps(settings: dict) -> list[dict]:
    timeframes = [("daily", "1y", "1d"), ("weekly", "1y", "1w")]
    team_config = STEP_TYPES["agent_team"].defaults
    team_config.update(inputs=["daily", "weekly"], model=settings["model"])
    return [
        *(_fetch(*timeframe) for timeframe in timeframes),
        *(_chart(label) for label, _, _ in timeframes),
        {"id": "agent_team", "type": "agent_team", "name": "Agent team debate", "config": team_config},
        *_risk_and_order(settings),
    ]


def _template(workflow_type: str, name: str, description: str, steps: list[dict], parameters: list[dict]) -> dict:
    return {
        "type": workflow_type,
        "name": name,
        "description": description,
        "steps": steps,
        "parameters": parameters,
        "diagram": step_diagram(steps),
    }


BUILTIN_TEMPLATES: list[dict] = [
    _template(
        "two_indicator",
        "2-Indicator Multi-Timeframe",
        "Daily (1 year of daily bars) and weekly (1 year of weekly bars) charts, each analyzed by the model, "
        "consolidated into one view, decided, risk-checked and ordered.",
        multi_timeframe_steps([("daily", "1y", "1d"), ("weekly", "1y", "1w")], PARAMETER_SETTINGS),
        ANALYSIS_PARAMETERS,
    ),
    _template(
        "three_indicator",
        "3-Indicator Multi-Timeframe",
        "Daily, weekly and monthly (5 years of monthly bars) charts analyzed and consolidated before the decision.",
        multi_timeframe_steps(
            [("daily", "1y", "1d"), ("weekly", "1y", "1w"), ("monthly", "5y", "1M")], PARAMETER_SETTINGS
        ),
        ANALYSIS_PARAMETERS,
    ),
    _template(
        "single_timeframe",
        "Single Timeframe",
        "One daily chart analyzed and decided on: the fastest workflow.",
        multi_timeframe_steps([("daily", "1y", "1d")], PARAMETER_SETTINGS),
        ANALYSIS_PARAMETERS,
    ),
    _template(
        "autogen_multi_agent",
        "AutoGen Multi-Agent",
        "Daily and weekly charts debated by an AutoGen team (TechnicalAnalyst, RiskManager, Executor; Fundamental "
        "and Sentiment optional) for at most 10 rounds; the Executor decides, then risk and order.",
        _agent_team_steps(PARAMETER_SETTINGS),
        ANALYSIS_PARAMETERS,
    ),
    _template(
        "custom",
        "Custom",
        "A blank start: fetch daily bars, chart them, analyze. Add steps to build your own workflow.",
        [_fetch("daily", "1y", "1d"), _chart("daily"), _analyze("daily", PARAMETER_SETTINGS)],
        [ANALYSIS_PARAMETERS[0]],
    ),
]
TEMPLATES_BY_TYPE = {template["type"]: template for template in BUILTIN_TEMPLATES}


def _timeframe_label(bar: str, taken: set[str], fallback: str) -> str:
    label = TIMEFRAME_NAMES.get(bar, fallback)
    return fallback if label in taken else label


def legacy_strategy_steps(params: dict) -> tuple[list[dict], list[str]]:
    """The 2-indicator steps for a strategy without a workflow, from its period_1/bar_1/period_2/bar_2.

    Missing values take the defaults (1y/1d and 1y/1w), each with a warning; values outside the
    known periods and bars are kept and reported by validation.
    """
    params = params or {}
    warnings = []
    values = {}
    for key, default in LEGACY_DEFAULTS.items():
        value = params.get(key)
        if value in (None, ""):
            warnings.append(f"{key} not set; using the default {default}")
            value = default
        elif value not in PERIODS and value not in BARS:
            warnings.append(f"{key} {value!r} is not a known period or bar size")
        values[key] = value
    first = _timeframe_label(values["bar_1"], set(), "timeframe_1")
    second = _timeframe_label(values["bar_2"], {first}, "timeframe_2")
    timeframes = [(first, values["period_1"], values["bar_1"]), (second, values["period_2"], values["bar_2"])]
    return multi_timeframe_steps(timeframes, LITERAL_SETTINGS), warnings
