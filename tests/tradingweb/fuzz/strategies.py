"""Hypothesis strategies for the JSON traders send: any JSON at all, and near-valid workflows that are
built-in templates with a few fields broken (where validation bugs hide)."""

import copy

from hypothesis import strategies as st

from workflows.steps import STEP_TYPES
from workflows.templates import BUILTIN_TEMPLATES

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "{{", "}}", "{{symbol}}", "1y", "1d", "AAPL", "-1", "1e400", "\x00", "step_1"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def _config_fields(step_type: str) -> list[str]:
    step = STEP_TYPES.get(step_type) if isinstance(step_type, str) else None
    schema = step.schema if step else {}
    return list(schema.get("properties", schema)) or ["value"]


@st.composite
def broken_workflows(draw) -> tuple[list, list]:
    """A built-in template's steps and parameters with 1-3 edits: a config value, a key, a type, an id replaced."""
    template = draw(st.sampled_from(BUILTIN_TEMPLATES))
    steps, parameters = copy.deepcopy(template["steps"]), copy.deepcopy(template["parameters"])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        edit = draw(st.sampled_from(["config", "key", "type", "id", "drop", "parameter", "raw"]))
        if not steps:
            steps.append(draw(json_values))
            continue
        index = draw(st.integers(min_value=0, max_value=len(steps) - 1))
        step = steps[index]
        if not isinstance(step, dict):
            steps[index] = draw(json_values)
        elif edit == "config" and isinstance(step.get("config"), dict):
            step["config"][draw(st.sampled_from(_config_fields(step.get("type", ""))))] = draw(json_values)
        elif edit == "key":
            step[draw(st.sampled_from(["id", "type", "name", "config"]))] = draw(json_values)
        elif edit == "type":
            step["type"] = draw(st.sampled_from([*STEP_TYPES, "no_such_step"]))
        elif edit == "id":
            step["id"] = draw(st.sampled_from([other.get("id") for other in steps if isinstance(other, dict)] + [""]))
        elif edit == "drop":
            steps.pop(index)
        elif edit == "parameter" and parameters:
            parameter = parameters[draw(st.integers(0, len(parameters) - 1))]
            parameter[draw(st.sampled_from(["name", "type", "default"]))] = draw(json_values)
        else:
            steps[index] = draw(json_values)
    return steps, parameters
