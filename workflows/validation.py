"""Save rules for workflows: every error at once, each with its step id and field."""

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from workflows.conditions import ConditionError, parse_condition
from workflows.parameters import declaration_errors, default_values, referenced_names, resolve_config
from workflows.steps import AGENTS, CODE, PROMPT, STEP_TYPES, StepType

STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
STEP_KEYS = {"id", "type", "name", "config"}
ANALYSIS_STEPS = {"ai_analyze", "decide", "agent_team"}
# Fields whose `{{...}}` placeholders belong to the prompt renderer or the code, not to parameters.
FREE_TEXT_KINDS = {PROMPT, CODE, AGENTS}
NAMESPACE_WORDS = {"fetch": "fetch_data", "chart": "generate_chart", "analysis": "ai_analyze or consolidate"}
# Activation refuses risk settings outside these bounds even though they are valid to save.
SANE_RISK_LIMITS = {
    "risk_per_trade": ("at most", 0.05),
    "max_position_pct": ("at most", 0.5),
    "min_r_coefficient": ("at least", 1.0),
}


@dataclass(frozen=True)
class WorkflowError:
    step_id: str  # "" for errors about the whole workflow or its parameters
    field: str
    message: str

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self):
        where = f"step {self.step_id}, " if self.step_id else ""
        return f"{where}{self.field}: {self.message}"


def _registered_type(step: Any) -> StepType | None:
    """The step's registered type; None for an unknown one, or a `type` that is not text at all."""
    step_type = step.get("type") if isinstance(step, dict) else None
    return STEP_TYPES.get(step_type) if isinstance(step_type, str) else None


def _step_key(step: Any, position: int) -> str:
    step_id = step.get("id") if isinstance(step, dict) else None
    return step_id if isinstance(step_id, str) and step_id else f"#{position + 1}"


class _WorkflowChecker:
    """Walks the steps once in order, remembering what earlier steps produced."""

    def __init__(self, steps: list, parameters: list):
        self.steps = steps
        self.errors: list[WorkflowError] = []
        for field, message in declaration_errors(parameters):
            self.errors.append(WorkflowError("", field, message))
        declarations = parameters if isinstance(parameters, list) else []
        valid_declarations = [
            parameter
            for parameter in declarations
            if isinstance(parameter, dict) and isinstance(parameter.get("name"), str)
        ]
        defaults = default_values(valid_declarations)
        self.known_parameters = set(defaults)
        self.defaults = {name: value for name, value in defaults.items() if value is not None}
        self.position_of = {}
        for position, step in enumerate(steps):
            key = _step_key(step, position)
            self.position_of.setdefault(key, position)
        self.labels: dict[str, dict[str, int]] = {"fetch": {}, "chart": {}, "analysis": {}}
        self.later_labels = self._all_labels()
        self.decision_at: int | None = None
        self.risk_at: int | None = None

    def _all_labels(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {"fetch": set(), "chart": set(), "analysis": set()}
        for step in self.steps:
            step_type = _registered_type(step)
            config = step.get("config") if isinstance(step, dict) else None
            if step_type and step_type.produces and isinstance(config, dict):
                found[step_type.produces].add(step_type.output_label(resolve_config(config, self.defaults)))
        return found

    def error(self, step_id: str, field: str, message: str) -> None:
        self.errors.append(WorkflowError(step_id, field, message))

    def check(self) -> list[WorkflowError]:
        seen_ids = set()
        for position, step in enumerate(self.steps):
            step_id = _step_key(step, position)
            if not isinstance(step, dict):
                self.error(step_id, "step", f"must be an object with id, type, name and config, got {step!r}")
                continue
            self.check_identity(step, step_id, seen_ids)
            step_type = _registered_type(step)
            if step_type is None:
                self.error(step_id, "type", f"unknown step type {step.get('type')!r} "
                                            f"(known: {', '.join(STEP_TYPES)})")
                continue
            config = step.get("config", {})
            if not isinstance(config, dict):
                self.error(step_id, "config", f"must be an object, got {type(config).__name__}")
                continue
            self.check_config(step_type, config, step_id, position)
        self.check_required_steps()
        return self.errors

    def check_identity(self, step: dict, step_id: str, seen_ids: set) -> None:
        raw_id = step.get("id")
        if not isinstance(raw_id, str) or not STEP_ID.match(raw_id):
            self.error(step_id, "id", f"must be 1-64 letters, digits, _ or -, got {raw_id!r}")
        elif raw_id in seen_ids:
            self.error(step_id, "id", f"step id {raw_id!r} is used more than once")
        else:
            seen_ids.add(raw_id)
        unknown = sorted(set(step) - STEP_KEYS)
        if unknown:
            self.error(step_id, "step", f"has unknown keys {', '.join(unknown)} (allowed: id, type, name, config)")
        if "name" in step and not isinstance(step["name"], str):
            self.error(step_id, "name", "must be text")

    def check_config(self, step_type: StepType, config: dict, step_id: str, position: int) -> None:
        for name in sorted(config):
            config_field = step_type.field_map.get(name)
            if config_field is None or config_field.kind in FREE_TEXT_KINDS:
                continue
            for unknown in sorted(referenced_names(config[name]) - self.known_parameters):
                self.error(step_id, name, f"refers to unknown parameter {{{{{unknown}}}}}; declare it in the "
                                          f"workflow's parameters")
        resolved = resolve_config(config, self.defaults)
        for config_error in step_type.config_errors(resolved):
            message = config_error.message
            raw = config.get(config_error.field)
            if raw != resolved.get(config_error.field):
                message += " (with the parameters' default values)"
            self.error(step_id, config_error.field, message)
        self.check_references(step_type, resolved, step_id)
        self.check_order_rules(step_type, step_id, position)
        if step_type.name == "condition":
            self.check_condition(resolved, step_id, position)
        if step_type.produces:
            label = step_type.output_label(resolved)
            namespace = self.labels[step_type.produces]
            if label in namespace:
                self.error(step_id, "label", f"label {label!r} is already used by an earlier "
                                             f"{NAMESPACE_WORDS[step_type.produces]} step")
            elif label:
                namespace[label] = position

    def check_references(self, step_type: StepType, config: dict, step_id: str) -> None:
        for config_field in step_type.fields:
            namespace = config_field.references
            if namespace not in self.labels:
                continue
            value = config.get(config_field.name)
            names = value if isinstance(value, list) else [value]
            for name in names:
                if not isinstance(name, str) or not name or referenced_names(name):
                    continue
                if name in self.labels[namespace]:
                    continue
                kind = NAMESPACE_WORDS[namespace]
                if name in self.later_labels[namespace]:
                    self.error(step_id, config_field.name, f"{name!r} must refer to an earlier {kind} step; "
                                                           f"it comes later")
                else:
                    self.error(step_id, config_field.name, f"no earlier {kind} step is labelled {name!r}")

    def check_order_rules(self, step_type: StepType, step_id: str, position: int) -> None:
        if step_type.makes_decision and self.decision_at is None:
            self.decision_at = position
        if step_type.name == "validate_risk":
            if self.decision_at is None:
                self.error(step_id, "type", "validate_risk needs a decide or agent_team step before it")
            self.risk_at = position if self.risk_at is None else self.risk_at
        if step_type.name == "place_order" and self.risk_at is None:
            self.error(step_id, "type", "place_order needs a validate_risk step before it: no order without a "
                                        "risk check")

    def check_condition(self, config: dict, step_id: str, position: int) -> None:
        expression = config.get("expression")
        if isinstance(expression, str) and expression.strip():
            try:
                parse_condition(expression)
            except ConditionError as exc:
                self.error(step_id, "expression", str(exc))
        branches = {}
        for branch in ("then", "else"):
            targets = config.get(branch) or []
            if not isinstance(targets, list):
                continue
            branches[branch] = {target for target in targets if isinstance(target, str)}
            for target in targets:
                if not isinstance(target, str):
                    continue
                target_position = self.position_of.get(target)
                if target_position is None:
                    self.error(step_id, branch, f"no step has the id {target!r}")
                elif target_position <= position:
                    self.error(step_id, branch, f"{target!r} is not a later step: a branch back to it would make a "
                                                f"cycle")
        for target in sorted(branches.get("then", set()) & branches.get("else", set())):
            self.error(step_id, "else", f"{target!r} is in both then and else")

    def check_required_steps(self) -> None:
        types = {step_type.name for step_type in map(_registered_type, self.steps) if step_type}
        if "fetch_data" not in types:
            self.error("", "steps", "a workflow needs at least one fetch_data step")
        if not types & ANALYSIS_STEPS:
            self.error("", "steps", "a workflow needs at least one ai_analyze, decide or agent_team step")


def validate_workflow(steps: list[dict], parameters: list[dict]) -> list[WorkflowError]:
    """Every reason the workflow cannot be saved; an empty list means it is valid."""
    if not isinstance(steps, list):
        errors = [WorkflowError("", "steps", "must be a list of steps")]
        return errors + _WorkflowChecker([], parameters).errors
    return _WorkflowChecker(steps, parameters if parameters is not None else []).check()


def activation_errors(
    steps: list[dict], parameters: list[dict], model_problem: Callable[[str], str | None]
) -> list[WorkflowError]:
    """What stops a valid workflow from going live: risky thresholds, and models `model_problem` objects to.

    `model_problem(model_name)` returns why the model cannot be used, or None when it can.
    """
    defaults = {name: value for name, value in default_values(parameters).items() if value is not None}
    errors = []
    for step in steps:
        config = resolve_config(step.get("config", {}), defaults)
        step_type = STEP_TYPES[step["type"]]
        if step_type.name == "validate_risk":
            full_config = step_type.with_defaults(config)
            for name, (bound, limit) in SANE_RISK_LIMITS.items():
                value = full_config[name]
                if not isinstance(value, int | float):
                    continue
                too_far = value > limit if bound == "at most" else value < limit
                if too_far:
                    errors.append(WorkflowError(step["id"], name, f"{value} is not a sane setting for a live "
                                                                  f"workflow; use {bound} {limit}"))
        models = [config.get("model")]
        models += [agent.get("model") for agent in config.get("agents") or [] if isinstance(agent, dict)]
        for model in models:
            problem = model_problem(model) if isinstance(model, str) and model else None
            if problem:
                errors.append(WorkflowError(step["id"], "model", problem))
    return errors
