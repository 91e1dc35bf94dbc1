"""Creating and editing strategies through the form; the services' refusals come back inline and change nothing."""

import json
import re

import pytest
from django.urls import reverse

from workflows.models import Strategy


def form_data(**changes) -> dict:
    data = {"name": "Mega caps", "description": "", "workflow": "", "symbols": "AAPL", "params": "{}", "active": "on"}
    data.update(changes)
    return data


def strategy_data(response) -> dict:
    html = response.content.decode()
    return json.loads(re.search(r'<script id="strategy-data" type="application/json">(.*?)</script>', html, re.S)[1])


def test_it_creates_a_strategy_with_overrides_symbols_and_switches(alice_client, alice, alice_workflow, aapl, msft):
    response = alice_client.post(reverse("strategies-new"), form_data(
        workflow=alice_workflow.pk, symbols="aapl, msft", params=json.dumps({"risk_per_trade": "0.02"}),
        human_approval="on", allow_live="on",
    ))
    assert response.status_code == 302
    assert response["Location"] == reverse("strategies")
    strategy = Strategy.objects.get(owner=alice)
    assert strategy.workflow == alice_workflow
    assert sorted(strategy.symbols) == ["AAPL", "MSFT"]
    assert strategy.params == {"risk_per_trade": 0.02}
    assert strategy.human_approval and strategy.allow_live and strategy.active


def test_the_form_offers_each_workflow_with_its_parameters(alice_client, alice_workflow):
    response = alice_client.get(reverse("strategies-new") + f"?workflow={alice_workflow.pk}")
    data = strategy_data(response)
    assert data["selected"] == str(alice_workflow.pk)
    option = next(option for option in data["workflows"] if option["id"] == str(alice_workflow.pk))
    names = [parameter["name"] for parameter in option["parameters"]]
    assert names == ["model", "risk_per_trade", "min_r_coefficient", "order_type", "symbol_delay", "analysis_language"]
    assert data["workflows"][0]["type"] == "legacy"
    assert 'data-type="single_timeframe"' in response.content.decode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"params": json.dumps({"risk_per_trade": "lots"})}, '"risk_per_trade": "must be a number, got \'lots\'"'),
        ({"params": json.dumps({"nonsense": 1})}, '"nonsense": "is not a parameter of this workflow'),
        ({"params": "[1, 2]"}, "must be an object mapping parameter names to values"),
        ({"symbols": "AAPL $$$"}, "$$$:"),
        ({"workflow": "999999"}, "Select a valid choice."),
    ],
)
def test_bad_input_is_refused_inline_and_creates_nothing(alice_client, alice, alice_workflow, aapl, changes, message):
    changes.setdefault("workflow", alice_workflow.pk)
    response = alice_client.post(reverse("strategies-new"), form_data(**changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Strategy.objects.filter(owner=alice).exists()


def test_a_parameter_error_is_handed_to_its_input(alice_client, alice_workflow, aapl):
    response = alice_client.post(reverse("strategies-new"), form_data(
        workflow=alice_workflow.pk, params=json.dumps({"risk_per_trade": "lots"})))
    data = strategy_data(response)
    assert data["parameter_errors"] == {"risk_per_trade": "must be a number, got 'lots'"}
    assert data["overrides"] == {"risk_per_trade": "lots"}


def test_another_traders_workflow_cannot_be_chosen(client, bob, alice_workflow, aapl):
    client.force_login(bob)
    response = client.post(reverse("strategies-new"), form_data(workflow=alice_workflow.pk))
    assert "Select a valid choice." in response.content.decode()
    assert not Strategy.objects.exists()


def test_editing_keeps_the_autogen_configuration_the_form_does_not_show(alice_client, alice_strategy, msft):
    response = alice_client.post(reverse("strategies-edit", args=[alice_strategy.pk]), form_data(
        name="Alice tech 2", workflow=alice_strategy.workflow_id, symbols="MSFT", params=json.dumps({}),
    ))
    assert response.status_code == 302
    alice_strategy.refresh_from_db()
    assert alice_strategy.name == "Alice tech 2"
    assert alice_strategy.symbols == ["MSFT"]
    assert alice_strategy.params == {"autogen_config": {"max_rounds": 4}}  # risk_per_trade back to its default
    assert alice_strategy.active


def test_the_edit_form_shows_the_saved_overrides(alice_client, alice_strategy):
    data = strategy_data(alice_client.get(reverse("strategies-edit", args=[alice_strategy.pk])))
    assert data["overrides"] == {"risk_per_trade": 0.02}
    assert data["symbols"] == "AAPL"
    assert data["selected"] == str(alice_strategy.workflow_id)


def test_a_refused_edit_changes_nothing(alice_client, alice_strategy):
    response = alice_client.post(reverse("strategies-edit", args=[alice_strategy.pk]), form_data(
        name="Renamed", workflow=alice_strategy.workflow_id, params=json.dumps({"risk_per_trade": "x"})))
    assert response.status_code == 200
    alice_strategy.refresh_from_db()
    assert alice_strategy.name == "Alice tech"
    assert alice_strategy.params["risk_per_trade"] == 0.02


def test_delete_removes_the_strategy(alice_client, alice_strategy):
    response = alice_client.post(reverse("strategies-delete", args=[alice_strategy.pk]), follow=True)
    assert not Strategy.objects.filter(pk=alice_strategy.pk).exists()
    assert "Strategy “Alice tech” deleted." in response.content.decode()
