"""Workflow parameters: declarations, coercion, merging and `{{name}}` substitution.

A workflow declares parameters as `[{name, type, default, description, choices?}]` with type
string, number, boolean or list. A run's values are the workflow's defaults, overridden by the
strategy's params, overridden by the request's params; every workflow also understands the
built-ins below.
"""

import re
from typing import Any

from workflows.steps import PARAM_REFERENCE, WHOLE_PARAM_REFERENCE

PARAMETER_TYPES = ("string", "number", "boolean", "list")
PARAMETER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
ANALYSIS_LANGUAGES = ("en", "zh-Hant")
BUILTIN_PARAMETERS = [
    {
        "name": "symbol_delay",
        "type": "number",
        "default": 60,
        "description": "Seconds to wait between symbols (cancellable).",
        "min": 0,
    },
    {
        "name": "analysis_language",
        "type": "string",
        "default": "en",
        "description": "Language of analyses: en or zh-Hant.",
        "choices": list(ANALYSIS_LANGUAGES),
    },
]
BUILTIN_BY_NAME = {parameter["name"]: parameter for parameter in BUILTIN_PARAMETERS}
# Strategy params that are settings of the strategy itself, not workflow parameters.
RESERVED_STRATEGY_KEYS = {"autogen_config"}
TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}


class ParameterError(ValueError):
    """Values that do not fit the declared parameters; `errors` maps parameter name to message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


def coerce_value(parameter_type: str, value: Any) -> Any:
    """The value as the declared type; raises ValueError with a message a person can act on."""
    if parameter_type == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"must be text, got {value!r}")
    if parameter_type == "number":
        if isinstance(value, bool):
            raise ValueError(f"must be a number, got {value!r}")
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            text = value.strip()
            try:
                return int(text)
            except ValueError:
                pass
            try:
                return float(text)
            except ValueError:
                pass
        raise ValueError(f"must be a number, got {value!r}")
    if parameter_type == "boolean":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"must be true or false, got {value!r}")
    if parameter_type == "list":
        if isinstance(value, list):
            return value
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        raise ValueError(f"must be a list, got {value!r}")
    raise ValueError(f"has unknown type {parameter_type!r}")


def _check_limits(declaration: dict, value: Any) -> None:
    choices = declaration.get("choices")
    if choices and value not in choices:
        raise ValueError(f"must be one of {', '.join(map(str, choices))}, got {value!r}")
    minimum = declaration.get("min")
    if minimum is not None and value < minimum:
        raise ValueError(f"must be at least {minimum}, got {value!r}")


def declaration_errors(parameters: Any) -> list[tuple[str, str]]:
    """(field, message) for every problem in a list of parameter declarations."""
    if not isinstance(parameters, list):
        return [("parameters", "must be a list of {name, type, default, description}")]
    errors = []
    seen = set()
    for position, declaration in enumerate(parameters):
        where = f"parameters[{position}]"
        if not isinstance(declaration, dict):
            errors.append((where, "must be an object with name, type, default and description"))
            continue
        unknown = sorted(set(declaration) - {"name", "type", "default", "description", "choices"})
        if unknown:
            errors.append((where, f"has unknown keys {', '.join(unknown)}"))
        name = declaration.get("name")
        if not isinstance(name, str) or not PARAMETER_NAME.match(name):
            errors.append((f"{where}.name", f"must be a name of letters, digits and _, starting with a letter; "
                                            f"got {name!r}"))
        elif name in seen:
            errors.append((f"{where}.name", f"{name!r} is declared twice"))
        else:
            seen.add(name)
        parameter_type = declaration.get("type")
        if parameter_type not in PARAMETER_TYPES:
            errors.append((f"{where}.type", f"must be one of {', '.join(PARAMETER_TYPES)}, got {parameter_type!r}"))
            continue
        builtin = BUILTIN_BY_NAME.get(name) if isinstance(name, str) else None
        if builtin and builtin["type"] != parameter_type:
            errors.append((f"{where}.type", f"{name} is a built-in {builtin['type']} parameter"))
        if "description" in declaration and not isinstance(declaration["description"], str):
            errors.append((f"{where}.description", "must be text"))
        choices = declaration.get("choices")
        if choices is not None and (not isinstance(choices, list) or not choices):
            errors.append((f"{where}.choices", "must be a non-empty list"))
            choices = None
        default = declaration.get("default")
        if default is not None:
            if not _matches_type(parameter_type, default):
                errors.append((f"{where}.default", f"must be a {parameter_type} to match the type, got {default!r}"))
            elif choices and default not in choices:
                errors.append((f"{where}.default", f"must be one of the choices, got {default!r}"))
    return errors


def _matches_type(parameter_type: str, value: Any) -> bool:
    if parameter_type == "string":
        return isinstance(value, str)
    if parameter_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if parameter_type == "boolean":
        return isinstance(value, bool)
    return isinstance(value, list)


def declared_parameters(workflow_parameters: list[dict]) -> dict[str, dict]:
    """Name → declaration, built-ins included (a workflow may redeclare a built-in's default)."""
    declarations = {parameter["name"]: dict(parameter) for parameter in BUILTIN_PARAMETERS}
    for parameter in workflow_parameters or []:
        merged = dict(declarations.get(parameter["name"], {}))
        merged.update(parameter)
        declarations[parameter["name"]] = merged
    return declarations


def coerce_overrides(workflow_parameters: list[dict], values: dict, *, allow_unknown: set[str] = frozenset()) -> dict:
    """Values coerced to their declared types; raises ParameterError listing every bad or unknown one."""
    if not isinstance(values, dict):
        raise ParameterError({"params": f"must be an object of name: value, got {type(values).__name__}"})
    declarations = declared_parameters(workflow_parameters)
    coerced = {}
    errors = {}
    for name, value in values.items():
        if name in allow_unknown:
            coerced[name] = value
            continue
        declaration = declarations.get(name)
        if declaration is None:
            errors[name] = f"is not a parameter of this workflow (known: {', '.join(sorted(declarations))})"
            continue
        try:
            coerced[name] = coerce_value(declaration["type"], value)
            _check_limits(declaration, coerced[name])
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ParameterError(errors)
    return coerced


def merge_parameters(workflow_parameters: list[dict], strategy_params: dict, request_params: dict) -> dict:
    """The values a run uses: built-ins < workflow defaults < strategy params < request params.

    Strategy keys that are strategy settings (autogen_config) pass through unchanged; any other
    unknown name, badly typed value, or parameter left without a value raises ParameterError.
    """
    declarations = declared_parameters(workflow_parameters)
    merged = {name: declaration.get("default") for name, declaration in declarations.items()}
    strategy_values = coerce_overrides(
        workflow_parameters, strategy_params or {}, allow_unknown=RESERVED_STRATEGY_KEYS
    )
    merged.update(strategy_values)
    merged.update(coerce_overrides(workflow_parameters, request_params or {}))
    missing = {name: "has no default and no value was given" for name, value in merged.items() if value is None}
    if missing:
        raise ParameterError(missing)
    return merged


def _substitute_text(text: str, params: dict) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in params:
            return match.group(0)
        value = params[name]
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return PARAM_REFERENCE.sub(replace, text)


def resolve_value(value: Any, params: dict) -> Any:
    if isinstance(value, str):
        whole = WHOLE_PARAM_REFERENCE.match(value)
        if whole and whole.group(1) in params:
            return params[whole.group(1)]
        return _substitute_text(value, params)
    if isinstance(value, list):
        return [resolve_value(item, params) for item in value]
    if isinstance(value, dict):
        return {key: resolve_value(item, params) for key, item in value.items()}
    return value


def resolve_config(config: dict, params: dict) -> dict:
    """The config with `{{name}}` replaced by parameter values.

    A value that is exactly one reference takes the parameter's value with its type (a number
    stays a number); references inside longer text are replaced by the value as text. Names that
    are not parameters (prompt placeholders such as {{symbol}} or {{analysis.daily}}) are left
    for the prompt renderer.
    """
    return resolve_value(config, params)


def referenced_names(value: Any) -> set[str]:
    """Every `{{name}}` a config value refers to."""
    if isinstance(value, str):
        return set(PARAM_REFERENCE.findall(value))
    if isinstance(value, list):
        return set().union(*(referenced_names(item) for item in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(referenced_names(item) for item in value.values())) if value else set()
    return set()


def default_values(workflow_parameters: list[dict]) -> dict:
    """Each declared and built-in parameter's default (None when it has none)."""
    return {name: declaration.get("default") for name, declaration in declared_parameters(workflow_parameters).items()}
