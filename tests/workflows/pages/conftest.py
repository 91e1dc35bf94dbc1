import copy

import pytest

from broker.models import Instrument
from workflows.services import strategy_create, workflow_create
from workflows.templates import TEMPLATES_BY_TYPE


def template_definition(workflow_type: str = "single_timeframe") -> dict:
    template = TEMPLATES_BY_TYPE[workflow_type]
    return {"steps": copy.deepcopy(template["steps"]), "parameters": copy.deepcopy(template["parameters"])}


@pytest.fixture
def aapl(db):
    return Instrument.objects.create(symbol="AAPL", conid=265598, name="Apple Inc")


@pytest.fixture
def msft(db):
    return Instrument.objects.create(symbol="MSFT", conid=272093, name="Microsoft")


@pytest.fixture
def alice_workflow(alice):
    return workflow_create(owner=alice, name="Alice daily", type="single_timeframe", **template_definition())


@pytest.fixture
def alice_strategy(alice, alice_workflow, aapl):
    return strategy_create(owner=alice, name="Alice tech", workflow=alice_workflow, symbols=["AAPL"],
                           params={"risk_per_trade": 0.02, "autogen_config": {"max_rounds": 4}})


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client
