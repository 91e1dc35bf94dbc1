"""The step catalogue: one StepType per step type, with the config schema a builder UI renders.

A step is `{"id": str, "type": str, "name": str, "config": {...}}`. Its config is checked
against the fields of its type here; rules across steps (references, order) live in
`workflows.validation`. Every config value may be a `{{param}}` reference: a value that is
exactly one reference is checked when the parameters are resolved, not here.

Steps that produce something name it with a `label`, so later steps and condition expressions
can refer to it: bars and charts by their fetch/chart label, analyses (ai_analyze and
consolidate) by their analysis label (`analysis.daily` in a condition).
"""

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any

from broker.timeframes import BAR_SIZES

PARAM_REFERENCE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
WHOLE_PARAM_REFERENCE = re.compile(r"^\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")
LABEL_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")

PERIODS = ["1d", "5d", "1w", "1m", "3m", "6m", "1y", "2y", "5y", "10y"]
BARS = list(BAR_SIZES)
INDICATORS = ["sma", "ema", "macd", "rsi", "bollinger", "atr", "supertrend"]
ORDER_TYPES = ["LMT", "MKT"]
TIME_IN_FORCE = ["DAY", "GTC"]
AGENT_FIELDS = {"name", "enabled", "provider", "model", "temperature", "system_prompt", "max_iterations"}
# Agents name a provider, never an endpoint: a URL would receive the installation's model key.
NO_URL_MESSAGE = "agents cannot be pointed at a URL; pick a provider by name (GET /api/model-providers/ lists them)"
REQUIRED_AGENT = "Executor"
DEFAULT_AGENTS = [
    {"name": "TechnicalAnalyst", "enabled": True},
    {"name": "RiskManager", "enabled": True},
    {"name": "Executor", "enabled": True},
    {"name": "Fundamental", "enabled": False},
    {"name": "Sentiment", "enabled": False},
]

# Field kinds: how a value is checked and which widget renders it.
STRING, TEXT, PROMPT, CODE = "string", "text", "prompt", "code"
INTEGER, NUMBER, BOOLEAN = "integer", "number", "boolean"
CHOICE, MULTI_CHOICE, STRING_LIST, AGENTS = "choice", "multi_choice", "string_list", "agents"
STEP_IDS = "step_ids"

WIDGETS = {
    STRING: "text",
    TEXT: "textarea",
    PROMPT: "textarea",
    CODE: "code",
    INTEGER: "number",
    NUMBER: "number",
    BOOLEAN: "checkbox",
    CHOICE: "select",
    MULTI_CHOICE: "checkboxes",
    STRING_LIST: "tags",
    AGENTS: "agents",
    STEP_IDS: "step_select",
}
JSON_TYPES = {
    STRING: "string",
    TEXT: "string",
    PROMPT: "string",
    CODE: "string",
    INTEGER: "integer",
    NUMBER: "number",
    BOOLEAN: "boolean",
    CHOICE: "string",
    MULTI_CHOICE: "array",
    STRING_LIST: "array",
    AGENTS: "array",
    STEP_IDS: "array",
}


def is_whole_reference(value: Any) -> bool:
    return isinstance(value, str) and WHOLE_PARAM_REFERENCE.match(value) is not None


@dataclass(frozen=True)
class ConfigField:
    name: str
    kind: str
    label: str
    help: str = ""
    required: bool = False
    default: Any = None
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    references: str = ""  # "fetch", "chart", "analysis" or "step": what the value names

    def schema(self) -> dict:
        schema = {
            "type": JSON_TYPES[self.kind],
            "kind": self.kind,
            "widget": WIDGETS[self.kind],
            "label": self.label,
            "help": self.help,
            "required": self.required,
            "default": copy.deepcopy(self.default),
        }
        if self.choices:
            schema["choices"] = list(self.choices)
        if self.min is not None:
            schema["minimum"] = self.min
        if self.max is not None:
            schema["maximum"] = self.max
        if self.references:
            schema["references"] = self.references
        return schema

    def errors(self, value: Any) -> list[str]:
        """What is wrong with one value of this field (a whole `{{param}}` reference is checked later)."""
        if is_whole_reference(value):
            return []
        checker = FIELD_CHECKS[self.kind]
        return checker(self, value)


def _check_string(config_field: ConfigField, value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f"must be text, got {type(value).__name__}"]
    if config_field.required and not value.strip():
        return ["is required"]
    return []


def _check_number(config_field: ConfigField, value: Any) -> list[str]:
    integral = config_field.kind == INTEGER
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return [f"must be {'a whole number' if integral else 'a number'}, got {value!r}"]
    if integral and value != int(value):
        return [f"must be a whole number, got {value!r}"]
    if config_field.min is not None and value < config_field.min:
        return [f"must be at least {config_field.min}, got {value}"]
    if config_field.max is not None and value > config_field.max:
        return [f"must be at most {config_field.max}, got {value}"]
    return []


def _check_boolean(config_field: ConfigField, value: Any) -> list[str]:
    return [] if isinstance(value, bool) else [f"must be true or false, got {value!r}"]


def _check_choice(config_field: ConfigField, value: Any) -> list[str]:
    if value not in config_field.choices:
        return [f"must be one of {', '.join(config_field.choices)}, got {value!r}"]
    return []


def _check_string_list(config_field: ConfigField, value: Any) -> list[str]:
    if not isinstance(value, list):
        return [f"must be a list, got {type(value).__name__}"]
    if config_field.required and not value:
        return ["needs at least one entry"]
    errors = []
    for position, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            errors.append(f"entry {position + 1} must be non-empty text, got {item!r}")
        elif config_field.choices and item not in config_field.choices and not is_whole_reference(item):
            errors.append(f"entry {position + 1} must be one of {', '.join(config_field.choices)}, got {item!r}")
    if len({item for item in value if isinstance(item, str)}) != len(value):
        errors.append("has duplicate entries")
    return errors


def _check_agents(config_field: ConfigField, value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        return ["must be a non-empty list of agents"]
    errors = []
    names = []
    for position, agent in enumerate(value, start=1):
        if not isinstance(agent, dict):
            errors.append(f"agent {position} must be an object, got {agent!r}")
            continue
        if "base_url" in agent:
            errors.append(f"agent {position}: {NO_URL_MESSAGE}")
        unknown = sorted(set(agent) - AGENT_FIELDS - {"base_url"})
        if unknown:
            errors.append(f"agent {position} has unknown settings {', '.join(unknown)}")
        name = agent.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.append(f"agent {position} needs a name")
            continue
        names.append(name)
        if not isinstance(agent.get("enabled", True), bool):
            errors.append(f"agent {name}: enabled must be true or false")
        temperature = agent.get("temperature")
        if temperature is not None and not is_whole_reference(temperature) and (
            isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2
        ):
            errors.append(f"agent {name}: temperature must be a number from 0 to 2")
        iterations = agent.get("max_iterations")
        if iterations is not None and not is_whole_reference(iterations) and (
            isinstance(iterations, bool) or not isinstance(iterations, int) or not 1 <= iterations <= 50
        ):
            errors.append(f"agent {name}: max_iterations must be a whole number from 1 to 50")
        for text_setting in ("provider", "model", "system_prompt"):
            if text_setting in agent and not isinstance(agent[text_setting], str):
                errors.append(f"agent {name}: {text_setting} must be text")
    if len(set(names)) != len(names):
        errors.append("agent names must be unique")
    executor_enabled = any(
        isinstance(agent, dict) and agent.get("name") == REQUIRED_AGENT and agent.get("enabled", True) is True
        for agent in value
    )
    if not executor_enabled and names:
        errors.append(f"the {REQUIRED_AGENT} agent is required and must be enabled: it ends the debate with a decision")
    return errors


FIELD_CHECKS = {
    STRING: _check_string,
    TEXT: _check_string,
    PROMPT: _check_string,
    CODE: _check_string,
    INTEGER: _check_number,
    NUMBER: _check_number,
    BOOLEAN: _check_boolean,
    CHOICE: _check_choice,
    MULTI_CHOICE: _check_string_list,
    STRING_LIST: _check_string_list,
    AGENTS: _check_agents,
    STEP_IDS: _check_string_list,
}


@dataclass(frozen=True)
class ConfigError:
    field: str
    message: str


@dataclass(frozen=True)
class StepType:
    name: str
    label: str
    description: str
    fields: tuple[ConfigField, ...]
    produces: str = ""  # the label namespace this step's output goes to: "fetch", "chart", "analysis"
    default_label: str = ""  # fallback label when `label` is empty: a literal or "=<field>" (copy that field)
    makes_decision: bool = False
    field_map: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "field_map", {config_field.name: config_field for config_field in self.fields})

    @property
    def schema(self) -> dict:
        return {
            "type": "object",
            "title": self.label,
            "description": self.description,
            "properties": {config_field.name: config_field.schema() for config_field in self.fields},
            "required": [config_field.name for config_field in self.fields if config_field.required],
        }

    @property
    def defaults(self) -> dict:
        return copy.deepcopy({config_field.name: config_field.default for config_field in self.fields})

    def config_errors(self, config: Any) -> list[ConfigError]:
        """Every problem with a config for this type, field by field."""
        if not isinstance(config, dict):
            return [ConfigError("config", f"must be an object, got {type(config).__name__}")]
        errors = [
            ConfigError(name, f"is not a setting of {self.name} (known: {', '.join(self.field_map)})")
            for name in config
            if name not in self.field_map
        ]
        for config_field in self.fields:
            value = config.get(config_field.name)
            if value is None or value == "":
                if config_field.required and config_field.default in (None, ""):
                    errors.append(ConfigError(config_field.name, "is required"))
                continue
            errors.extend(ConfigError(config_field.name, message) for message in config_field.errors(value))
        return errors

    def validate_config(self, config: Any) -> list[str]:
        return [f"{error.field}: {error.message}" for error in self.config_errors(config)]

    def with_defaults(self, config: dict) -> dict:
        """The config with every missing or empty setting filled from the defaults."""
        filled = dict(self.defaults)
        filled.update({name: value for name, value in config.items() if value is not None and value != ""})
        return filled

    def output_label(self, config: dict) -> str:
        """The label this step's output is known by, or "" when it produces nothing named."""
        if not self.produces:
            return ""
        label = config.get("label")
        if isinstance(label, str) and label.strip():
            return label.strip()
        if self.default_label.startswith("="):
            source = config.get(self.default_label[1:])
            return source.strip() if isinstance(source, str) else ""
        return self.default_label


def _label_field(help_text: str, default: Any = None, required: bool = False) -> ConfigField:
    return ConfigField("label", STRING, "Label", help_text, required=required, default=default)


PROVIDER_HELP = "Model provider, by name (staff define them); empty: the provider offering the model, default first."


def _model_fields(temperature: float, max_tokens: int) -> tuple[ConfigField, ...]:
    return (
        ConfigField("provider", STRING, "Provider", PROVIDER_HELP, default=""),
        ConfigField("model", STRING, "Model", "Model name; empty uses the server's default model.", default=""),
        ConfigField("temperature", NUMBER, "Temperature", "0 is most deterministic.", default=temperature, min=0,
                    max=2),
        ConfigField("max_tokens", INTEGER, "Max tokens", "Longest answer allowed.", default=max_tokens, min=1,
                    max=32000),
    )


def _prompt_field(help_text: str) -> ConfigField:
    return ConfigField(
        "prompt_template",
        PROMPT,
        "Prompt template",
        help_text + " Empty uses the built-in prompt. Placeholders: {{symbol}}, {{analysis.<label>}}, "
        "{{analysis_language}} and the workflow's parameters.",
        default="",
    )


def _indicator_field() -> ConfigField:
    return ConfigField(
        "indicators", MULTI_CHOICE, "Indicators", "Indicators to compute; none ticked means all.",
        default=list(INDICATORS), choices=tuple(INDICATORS),
    )


RISK_FIELDS = (
    ConfigField("min_r_coefficient", NUMBER, "Minimum R", "Reward divided by risk must reach this.", required=True,
                default=1.0, min=0, max=100),
    ConfigField("min_profit_margin", NUMBER, "Minimum profit margin", "|target − price| / price, e.g. 0.05 = 5 %.",
                required=True, default=0.05, min=0, max=10),
    ConfigField("risk_per_trade", NUMBER, "Risk per trade", "Share of equity lost if the stop is hit.",
                required=True, default=0.01, min=0.0001, max=1),
    ConfigField("max_position_pct", NUMBER, "Max position", "Largest position as a share of equity.", required=True,
                default=0.10, min=0.0001, max=1),
    ConfigField("max_exposure_pct", NUMBER, "Max exposure", "Total exposure after the order, share of equity.",
                required=True, default=0.90, min=0.0001, max=1),
    ConfigField("max_open_positions", INTEGER, "Max open positions", "Refuse once this many positions are open.",
                required=True, default=10, min=1, max=1000),
    ConfigField("max_price_deviation", NUMBER, "Max price deviation", "Reject the decision when the model's price "
                "is further than this from the market's, e.g. 0.01 = 1 %; also how far the market may move before "
                "the order goes out.", default=0.01, min=0.0001, max=0.5),
)

STEP_TYPES: dict[str, StepType] = {
    step_type.name: step_type
    for step_type in (
        StepType(
            "fetch_data",
            "Fetch data",
            "Historical bars for the symbol over a period and bar size, with indicators.",
            (
                _label_field("Name of this timeframe, e.g. daily; charts refer to it.", required=True),
                ConfigField("period", CHOICE, "Period", "How far back.", required=True, default="1y",
                            choices=tuple(PERIODS)),
                ConfigField("bar", CHOICE, "Bar size", "One bar per …", required=True, default="1d",
                            choices=tuple(BARS)),
                _indicator_field(),
            ),
            produces="fetch",
        ),
        StepType(
            "generate_chart",
            "Generate chart",
            "A candlestick chart image of fetched bars with indicators.",
            (
                _label_field("Name of the chart; empty uses the source label.", default=""),
                ConfigField("source", STRING, "Source", "Label of an earlier fetch_data step.", required=True,
                            references="fetch"),
                _indicator_field(),
                ConfigField("width", INTEGER, "Width (px)", "Empty uses the server default.", min=320, max=4096),
                ConfigField("height", INTEGER, "Height (px)", "Empty uses the server default.", min=240, max=4096),
            ),
            produces="chart",
            default_label="=source",
        ),
        StepType(
            "ai_analyze",
            "AI analysis",
            "A model reads a chart and its indicator summary and writes an analysis.",
            (
                _label_field("Name of the analysis; empty uses the chart label.", default=""),
                ConfigField("input", STRING, "Chart", "Label of an earlier generate_chart step.", required=True,
                            references="chart"),
                _prompt_field("What to ask about the chart."),
                *_model_fields(0.2, 2000),
            ),
            produces="analysis",
            default_label="=input",
        ),
        StepType(
            "consolidate",
            "Consolidate",
            "A model combines several analyses (e.g. timeframes) into one view.",
            (
                _label_field("Name of the combined analysis.", default="consolidated"),
                ConfigField("inputs", STRING_LIST, "Analyses", "Labels of earlier analyses to combine.",
                            required=True, default=[], references="analysis"),
                _prompt_field("How to combine the analyses."),
                *_model_fields(0.2, 2000),
            ),
            produces="analysis",
            default_label="consolidated",
        ),
        StepType(
            "decide",
            "Decide",
            "A model turns an analysis into a structured decision: BUY, SELL or HOLD with price, target, stop "
            "and confidence. Invalid answers are retried with a clarified prompt.",
            (
                ConfigField("input", STRING, "Analysis", "Label of an earlier analysis or consolidation.",
                            required=True, references="analysis"),
                _prompt_field("How to decide."),
                *_model_fields(0.1, 1500),
                ConfigField("max_attempts", INTEGER, "Attempts", "Tries before the symbol fails on invalid output.",
                            default=3, min=1, max=5),
            ),
            makes_decision=True,
        ),
        StepType(
            "agent_team",
            "AutoGen agent team",
            "A team of AutoGen agents debates the charts; the Executor ends with a decision (no consensus: HOLD).",
            (
                ConfigField("inputs", STRING_LIST, "Charts", "Labels of earlier charts to show the team; empty: all.",
                            default=[], references="chart"),
                ConfigField("agents", AGENTS, "Agents", "Agents taking part, each with optional model, "
                            "temperature, system prompt and max iterations.", required=True,
                            default=[dict(agent) for agent in DEFAULT_AGENTS]),
                ConfigField("provider", STRING, "Default provider", PROVIDER_HELP, default=""),
                ConfigField("model", STRING, "Default model", "Model for agents without their own; empty: server "
                            "default.", default=""),
                ConfigField("max_rounds", INTEGER, "Max rounds", "Debate turns before the Executor must decide.",
                            default=10, min=1, max=50),
                ConfigField("human_approval", BOOLEAN, "Human approval", "Park the decision for a person to approve.",
                            default=False),
            ),
            makes_decision=True,
        ),
        StepType(
            "validate_risk",
            "Validate risk",
            "Approves or rejects the decision by R coefficient, profit margin, position size, exposure and "
            "open positions; sizes the order. Global caps set by staff can only tighten these.",
            RISK_FIELDS,
        ),
        StepType(
            "place_order",
            "Place order",
            "Places the approved decision as an order priced from the market, never the model (paper unless live "
            "trading is allowed).",
            (
                ConfigField("order_type", CHOICE, "Order type", "LMT at the market price plus the allowance, or "
                            "MKT.", default="LMT", choices=tuple(ORDER_TYPES)),
                ConfigField("limit_allowance_bps", NUMBER, "Limit allowance (bps)", "How far a LMT entry may be "
                            "through the market reference, in basis points (5 = 0.05 %): above it for a buy, below "
                            "for a sell.", default=5, min=0, max=100),
                ConfigField("tif", CHOICE, "Time in force", "", default="DAY", choices=tuple(TIME_IN_FORCE)),
                ConfigField("quantity", INTEGER, "Quantity", "Empty: sized by validate_risk.", min=1, max=1_000_000),
                ConfigField("bracket", BOOLEAN, "Bracket exits", "Send the decision's target and stop with the entry "
                            "as take-profit and stop-loss orders, one cancelling the other.", default=True),
            ),
        ),
        StepType(
            "wait",
            "Wait",
            "Pauses the run (cancellable).",
            (ConfigField("seconds", NUMBER, "Seconds", "", required=True, default=60, min=0, max=86400),),
        ),
        StepType(
            "custom_code",
            "Custom code",
            "Python run in the sandbox (no network; numpy, pandas, scipy) with the context as input.",
            (
                ConfigField("code", CODE, "Code", "Python source.", required=True),
                ConfigField("timeout", INTEGER, "Timeout (s)", "", default=10, min=1, max=300),
            ),
        ),
        StepType(
            "condition",
            "Condition",
            "Evaluates an expression over the context (e.g. decision.confidence > 0.7, analysis.daily contains "
            "\"bullish\", symbol matches \"^A\"). Steps listed in `then` run only when it is true, steps in `else` "
            "only when it is false; both lists name later steps, and every other step runs either way.",
            (
                ConfigField("expression", TEXT, "Expression", "Comparisons (== != < <= > >=), contains, matches "
                            "(regex), and/or/not, parentheses.", required=True),
                ConfigField("then", STEP_IDS, "Then", "Ids of later steps run when true.", default=[],
                            references="step"),
                ConfigField("else", STEP_IDS, "Else", "Ids of later steps run when false.", default=[],
                            references="step"),
            ),
        ),
    )
}


def step_catalogue() -> list[dict]:
    """The catalogue as the builder UI and the API show it."""
    return [
        {
            "type": step_type.name,
            "label": step_type.label,
            "description": step_type.description,
            "schema": step_type.schema,
            "defaults": step_type.defaults,
        }
        for step_type in STEP_TYPES.values()
    ]
