import pytest

from broker.models import Instrument
from workflows.services import StrategyInvalid, strategy_create, strategy_update, workflow_delete


@pytest.fixture
def aapl(db):
    return Instrument.objects.create(symbol="AAPL", conid=265598, name="Apple Inc")


def test_it_creates_a_strategy_on_the_owners_workflow_with_known_symbols(alice, alice_workflow, aapl):
    strategy = strategy_create(owner=alice, name="Tech", workflow=alice_workflow, symbols=["aapl"],
                               params={"risk_per_trade": "0.02"})
    assert strategy.workflow == alice_workflow
    assert list(strategy.instruments.all()) == [aapl]
    assert strategy.params == {"risk_per_trade": 0.02}


def test_unknown_symbols_are_qualified_through_the_broker(alice, alice_workflow):
    strategy = strategy_create(owner=alice, name="New", workflow=alice_workflow, symbols=["MSFT", "MSFT "])
    assert strategy.symbols == ["MSFT"]
    assert Instrument.objects.get(symbol="MSFT").conid > 0


def test_symbols_the_broker_does_not_know_are_refused(alice, alice_workflow):
    with pytest.raises(StrategyInvalid) as raised:
        strategy_create(owner=alice, name="Bad", workflow=alice_workflow, symbols=["AAPL", "$$$", ""])
    messages = raised.value.errors["symbols"]
    assert any(message.startswith("$$$:") for message in messages)
    assert any("''" in message for message in messages)


def test_it_refuses_another_traders_workflow(bob, alice_workflow):
    with pytest.raises(StrategyInvalid) as raised:
        strategy_create(owner=bob, name="Sneaky", workflow=alice_workflow)
    assert list(raised.value.errors) == ["workflow"]


def test_it_refuses_a_deleted_workflow(alice, alice_workflow):
    workflow_delete(workflow=alice_workflow)
    with pytest.raises(StrategyInvalid):
        strategy_create(owner=alice, name="Late", workflow=alice_workflow.pk)


def test_params_are_checked_against_the_workflow_parameters(alice, alice_workflow):
    with pytest.raises(StrategyInvalid) as raised:
        strategy_create(owner=alice, name="Typo", workflow=alice_workflow,
                        params={"risk_per_trde": 0.02, "symbol_delay": "soon", "autogen_config": {"max_rounds": 3}})
    messages = raised.value.errors["params"]
    assert len(messages) == 2
    assert any(message.startswith("risk_per_trde: is not a parameter") for message in messages)
    assert any(message.startswith("symbol_delay: must be a number") for message in messages)


def test_legacy_strategies_keep_their_timeframe_params(alice):
    strategy = strategy_create(owner=alice, name="Legacy", params={"period_1": "2y", "bar_1": "1d"})
    assert strategy.workflow is None
    assert strategy.params == {"period_1": "2y", "bar_1": "1d"}
    with pytest.raises(StrategyInvalid, match="bar_2"):
        strategy_create(owner=alice, name="Legacy bad", params={"bar_2": "fortnightly"})


def test_update_rechecks_params_and_replaces_symbols(alice, alice_workflow, aapl):
    strategy = strategy_create(owner=alice, name="Tech", workflow=alice_workflow, symbols=["AAPL"])
    strategy_update(strategy=strategy, symbols=["MSFT"], active=False, params={"model": "gpt-4o"})
    strategy.refresh_from_db()
    assert strategy.symbols == ["MSFT"]
    assert strategy.active is False
    with pytest.raises(StrategyInvalid):
        strategy_update(strategy=strategy, workflow=None)  # "model" is not a legacy parameter
    strategy.refresh_from_db()
    assert strategy.workflow == alice_workflow
