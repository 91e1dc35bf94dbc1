"""The engine runs independent timeframe chains side by side and everything else in order."""

from execution.graph import build_graph
from workflows.templates import BUILTIN_TEMPLATES

TEMPLATES = {template["type"]: template for template in BUILTIN_TEMPLATES}


def _waits_for(steps):
    nodes = build_graph(steps)
    return {node.step_id: {steps[index]["id"] for index in node.depends_on} for node in nodes}


def test_it_runs_the_timeframe_chains_of_a_two_indicator_workflow_in_parallel():
    waits = _waits_for(TEMPLATES["two_indicator"]["steps"])
    assert waits["fetch_daily"] == set() and waits["fetch_weekly"] == set()
    assert waits["chart_daily"] == {"fetch_daily"}
    assert waits["chart_weekly"] == {"fetch_weekly"}
    assert waits["analyze_daily"] == {"chart_daily"}
    assert waits["analyze_weekly"] == {"chart_weekly"}
    assert waits["consolidate"] == {"analyze_daily", "analyze_weekly"}
    assert waits["decide"] == {"consolidate"}
    assert waits["validate_risk"] == {"decide"}
    assert waits["place_order"] == {"validate_risk"}


def test_it_makes_steps_without_known_inputs_barriers():
    steps = [
        {"id": "fetch", "type": "fetch_data", "name": "", "config": {"label": "daily", "period": "1y", "bar": "1d"}},
        {"id": "gate", "type": "custom_code", "name": "", "config": {"code": "result = 1"}},
        {"id": "chart", "type": "generate_chart", "name": "", "config": {"source": "daily"}},
        {"id": "pause", "type": "wait", "name": "", "config": {"seconds": 0}},
    ]
    waits = _waits_for(steps)
    assert waits["gate"] == {"fetch"}
    assert waits["chart"] == {"fetch", "gate"}
    assert waits["pause"] == {"fetch", "gate", "chart"}


def test_it_links_a_reference_to_the_latest_producer_of_that_label():
    steps = [
        {"id": "f1", "type": "fetch_data", "name": "", "config": {"label": "daily", "period": "1y", "bar": "1d"}},
        {"id": "c1", "type": "generate_chart", "name": "", "config": {"source": "daily", "label": "daily_chart"}},
        {"id": "a1", "type": "ai_analyze", "name": "", "config": {"input": "daily_chart"}},
        {"id": "d1", "type": "decide", "name": "", "config": {"input": "daily_chart"}},
    ]
    nodes = build_graph(steps)
    assert nodes[2].data_inputs == {1}
    assert nodes[3].data_inputs == {2}  # the analysis labelled (by default) after its chart
