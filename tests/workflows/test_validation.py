import pytest

from tests.workflows.conftest import template_definition
from workflows.validation import validate_workflow


def errors_of(steps, parameters=()):
    return {(error.step_id, error.field, error.message) for error in validate_workflow(steps, list(parameters))}


def fields_of(steps, parameters=()):
    return {(error.step_id, error.field) for error in validate_workflow(steps, list(parameters))}


def fetch(step_id="fetch", label="daily", **config):
    return {"id": step_id, "type": "fetch_data", "name": "", "config": {"label": label, **config}}


def chart(step_id="chart", source="daily", **config):
    return {"id": step_id, "type": "generate_chart", "name": "", "config": {"source": source, **config}}


def analyze(step_id="analyze", chart_label="daily", **config):
    return {"id": step_id, "type": "ai_analyze", "name": "", "config": {"input": chart_label, **config}}


def test_a_template_workflow_is_valid():
    definition = template_definition("single_timeframe")
    assert validate_workflow(definition["steps"], definition["parameters"]) == []


def test_it_reports_every_error_at_once_with_step_and_field():
    steps = [
        fetch(period="7y", bar="2d"),
        chart(source="weekly", width=10),
        {"id": "decide", "type": "decide", "config": {"input": "nothing", "temperature": "hot"}},
        {"id": "order", "type": "place_order", "config": {"order_type": "STOP"}},
    ]
    fields = fields_of(steps)
    assert {
        ("fetch", "period"),
        ("fetch", "bar"),
        ("chart", "source"),
        ("chart", "width"),
        ("decide", "input"),
        ("decide", "temperature"),
        ("order", "order_type"),
        ("order", "type"),
    } <= fields


def test_it_refuses_place_order_without_validate_risk():
    definition = template_definition("single_timeframe")
    steps = [step for step in definition["steps"] if step["type"] != "validate_risk"]
    errors = validate_workflow(steps, definition["parameters"])
    assert [(error.step_id, error.field) for error in errors] == [("place_order", "type")]
    assert "validate_risk" in errors[0].message


def test_it_refuses_validate_risk_placed_after_the_order():
    definition = template_definition("single_timeframe")
    steps = definition["steps"]
    steps[-2], steps[-1] = steps[-1], steps[-2]
    assert ("place_order", "type") in fields_of(steps, definition["parameters"])


def test_it_needs_a_fetch_and_an_analysis_step():
    errors = errors_of([{"id": "wait", "type": "wait", "config": {"seconds": 5}}])
    messages = {message for step_id, field, message in errors if step_id == "" and field == "steps"}
    assert any("fetch_data" in message for message in messages)
    assert any("ai_analyze, decide or agent_team" in message for message in messages)


def test_references_must_point_to_an_earlier_step():
    steps = [fetch(), analyze(), chart()]
    errors = errors_of(steps)
    assert any(step_id == "analyze" and field == "input" and "earlier" in message and "comes later" in message
               for step_id, field, message in errors)


def test_unresolvable_references_are_named():
    errors = errors_of([fetch(), chart(source="weekly"), analyze()])
    assert ("chart", "source", "no earlier fetch_data step is labelled 'weekly'") in errors


def test_consolidate_inputs_must_name_earlier_analyses():
    steps = [fetch(), chart(), analyze(), {"id": "merge", "type": "consolidate",
                                            "config": {"inputs": ["daily", "weekly"]}}]
    errors = errors_of(steps)
    assert ("merge", "inputs", "no earlier ai_analyze or consolidate step is labelled 'weekly'") in errors


def test_step_ids_must_be_unique_and_types_known():
    steps = [fetch(), chart(step_id="fetch"), analyze(), {"id": "x", "type": "teleport", "config": {}}]
    fields = fields_of(steps)
    assert ("fetch", "id") in fields
    assert ("x", "type") in fields


def test_unknown_config_settings_are_refused():
    assert ("fetch", "colour") in fields_of([fetch(colour="red"), chart(), analyze()])


def test_labels_are_unique_per_kind():
    steps = [fetch(), fetch(step_id="fetch2"), chart(), analyze()]
    assert ("fetch2", "label") in fields_of(steps)


def test_condition_branches_may_not_loop_back():
    steps = [fetch(), chart(), analyze(),
             {"id": "check", "type": "condition",
              "config": {"expression": "analysis.daily contains 'bullish'", "then": ["fetch"], "else": ["check"]}}]
    errors = errors_of(steps)
    assert any(step_id == "check" and field == "then" and "cycle" in message for step_id, field, message in errors)
    assert any(step_id == "check" and field == "else" and "cycle" in message for step_id, field, message in errors)


def test_condition_branches_name_existing_later_steps():
    steps = [fetch(), {"id": "check", "type": "condition",
                       "config": {"expression": "symbol == 'AAPL'", "then": ["chart"], "else": ["ghost"]}},
             chart(), analyze()]
    errors = errors_of(steps)
    assert errors == {("check", "else", "no step has the id 'ghost'")}


def test_condition_expressions_are_parsed():
    steps = [fetch(), chart(), analyze(),
             {"id": "check", "type": "condition", "config": {"expression": "decision.confidence >"}}]
    assert ("check", "expression") in fields_of(steps)


def test_unknown_parameter_references_are_errors():
    steps = [fetch(period="{{lookback}}"), chart(), analyze(model="{{model}}")]
    errors = errors_of(steps, [{"name": "model", "type": "string", "default": ""}])
    assert ("fetch", "period", "refers to unknown parameter {{lookback}}; declare it in the workflow's parameters") in (
        errors
    )
    assert not any(step_id == "analyze" for step_id, _, _ in errors)


def test_prompt_placeholders_are_not_parameters():
    steps = [fetch(), chart(), analyze(prompt_template="Analyze {{symbol}} in {{analysis_language}}")]
    assert validate_workflow(steps, []) == []


def test_parameter_defaults_are_checked_against_the_fields_using_them():
    steps = [fetch(period="{{lookback}}"), chart(), analyze()]
    errors = errors_of(steps, [{"name": "lookback", "type": "string", "default": "forever"}])
    assert any(step_id == "fetch" and field == "period" and "default" in message for step_id, field, message in errors)
    assert validate_workflow(steps, [{"name": "lookback", "type": "string", "default": "2y"}]) == []


@pytest.mark.parametrize(
    ("declaration", "field"),
    [
        ({"name": "1bad", "type": "string", "default": ""}, "parameters[0].name"),
        ({"name": "size", "type": "decimal", "default": 1}, "parameters[0].type"),
        ({"name": "size", "type": "number", "default": "ten"}, "parameters[0].default"),
        ({"name": "flag", "type": "boolean", "default": "yes"}, "parameters[0].default"),
        ({"name": "symbols", "type": "list", "default": "AAPL"}, "parameters[0].default"),
        ({"name": "symbol_delay", "type": "string", "default": "1"}, "parameters[0].type"),
    ],
)
def test_parameter_declarations_are_validated(declaration, field):
    definition = template_definition("custom")
    errors = validate_workflow(definition["steps"], [declaration])
    assert ("", field) in {(error.step_id, error.field) for error in errors}


def test_duplicate_parameter_names_are_refused():
    declarations = [{"name": "a", "type": "number", "default": 1}, {"name": "a", "type": "number", "default": 2}]
    definition = template_definition("custom")
    assert ("", "parameters[1].name") in fields_of(definition["steps"], declarations)


def test_agent_team_needs_the_executor():
    definition = template_definition("autogen_multi_agent")
    team = next(step for step in definition["steps"] if step["type"] == "agent_team")
    team["config"]["agents"] = [{"name": "TechnicalAnalyst", "enabled": True}, {"name": "Executor", "enabled": False}]
    errors = validate_workflow(definition["steps"], definition["parameters"])
    assert [(error.step_id, error.field) for error in errors] == [("agent_team", "agents")]
    assert "Executor" in errors[0].message


def test_garbage_shapes_get_errors_not_exceptions():
    assert validate_workflow("steps", None)[0].field == "steps"
    fields = fields_of([None, {"id": "a", "type": "fetch_data", "config": []}], [])
    assert ("#1", "step") in fields
    assert ("a", "config") in fields
