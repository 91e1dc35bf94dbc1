import pytest

from tests.support.seed import trading_history


@pytest.fixture
def alice_history(alice):
    return trading_history(alice, label="Alice", symbol="AAPL")


@pytest.fixture
def bob_history(bob):
    return trading_history(bob, label="Bob", symbol="MSFT")


@pytest.fixture
def runnable_strategy(alice):
    """An active strategy of alice's on a valid single-timeframe workflow, trading AAPL and MSFT."""
    from tests.execution.conftest import make_strategy, workflow_from_template

    return make_strategy(alice, workflow_from_template(alice, "single_timeframe"), name="Alice runnable")
