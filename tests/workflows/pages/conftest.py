import pytest

from broker.models import Instrument
from workflows.services import strategy_create


@pytest.fixture
def aapl(db):
    return Instrument.objects.create(symbol="AAPL", conid=265598, name="Apple Inc")


@pytest.fixture
def msft(db):
    return Instrument.objects.create(symbol="MSFT", conid=272093, name="Microsoft")


@pytest.fixture
def alice_strategy(alice, alice_workflow, aapl):
    return strategy_create(owner=alice, name="Alice tech", workflow=alice_workflow, symbols=["AAPL"],
                           params={"risk_per_trade": 0.02, "autogen_config": {"max_rounds": 4}})
