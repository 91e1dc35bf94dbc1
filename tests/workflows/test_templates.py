import pytest

from workflows.models import Workflow
from workflows.services import install_builtin_templates
from workflows.templates import BUILTIN_TEMPLATES, legacy_strategy_steps
from workflows.validation import validate_workflow


@pytest.mark.parametrize("template", BUILTIN_TEMPLATES, ids=lambda template: template["type"])
def test_each_builtin_template_is_valid(template):
    assert validate_workflow(template["steps"], template["parameters"]) == []
    assert template["description"]
    drawn = [node["id"] for row in template["diagram"]["rows"] for node in row]
    assert sorted(drawn) == sorted(step["id"] for step in template["steps"])
    assert template["diagram"]["text"]


def test_there_is_one_template_per_workflow_type():
    assert sorted(template["type"] for template in BUILTIN_TEMPLATES) == sorted(Workflow.Type.values)


def test_the_three_indicator_template_adds_a_monthly_timeframe():
    template = next(template for template in BUILTIN_TEMPLATES if template["type"] == "three_indicator")
    fetches = [(step["config"]["period"], step["config"]["bar"]) for step in template["steps"]
               if step["type"] == "fetch_data"]
    assert fetches == [("1y", "1d"), ("1y", "1w"), ("5y", "1M")]


def test_the_diagram_puts_parallel_timeframes_side_by_side():
    template = next(template for template in BUILTIN_TEMPLATES if template["type"] == "two_indicator")
    rows = [[node["id"] for node in row] for row in template["diagram"]["rows"]]
    assert rows[0] == ["fetch_daily", "fetch_weekly"]
    assert rows[-1] == ["place_order"]
    assert ["consolidate", "decide"] in template["diagram"]["edges"]


def test_legacy_strategies_default_their_timeframes_with_warnings():
    steps, warnings = legacy_strategy_steps({})
    fetches = [(step["config"]["label"], step["config"]["period"], step["config"]["bar"]) for step in steps
               if step["type"] == "fetch_data"]
    assert fetches == [("daily", "1y", "1d"), ("weekly", "1y", "1w")]
    assert len(warnings) == 4
    assert validate_workflow(steps, []) == []


def test_legacy_strategies_use_their_own_timeframes():
    steps, warnings = legacy_strategy_steps({"period_1": "6m", "bar_1": "1h", "period_2": "2y", "bar_2": "1d"})
    fetches = [(step["config"]["period"], step["config"]["bar"]) for step in steps if step["type"] == "fetch_data"]
    assert fetches == [("6m", "1h"), ("2y", "1d")]
    assert warnings == []
    assert validate_workflow(steps, []) == []


def test_legacy_strategies_with_the_same_bar_twice_get_distinct_labels():
    steps, _ = legacy_strategy_steps({"period_1": "1y", "bar_1": "1d", "period_2": "5y", "bar_2": "1d"})
    assert validate_workflow(steps, []) == []


def test_installing_templates_is_idempotent(alice):
    first = install_builtin_templates(owner=alice)
    second = install_builtin_templates(owner=alice, activate=True)
    assert [workflow.pk for workflow in first] == [workflow.pk for workflow in second]
    assert Workflow.objects.filter(owner=alice).count() == len(BUILTIN_TEMPLATES)
    assert all(workflow.status == Workflow.Status.ACTIVE for workflow in Workflow.objects.filter(owner=alice))


def test_every_period_and_bar_offered_is_understood_by_the_broker():
    from broker.timeframes import validate_timeframe
    from workflows.steps import BARS, PERIODS

    assert all(validate_timeframe(period, "1d") == [] for period in PERIODS)
    assert all(validate_timeframe("1y", bar) == [] for bar in BARS)
