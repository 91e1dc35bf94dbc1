import pytest


@pytest.fixture
def runnable_strategy(alice):
    """An active strategy of alice's on a valid single-timeframe workflow, trading AAPL and MSFT."""
    from tests.execution.conftest import make_strategy, workflow_from_template

    return make_strategy(alice, workflow_from_template(alice, "single_timeframe"), name="Alice runnable")
