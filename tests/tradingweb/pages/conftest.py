import pytest

from tests.support.seed import trading_history


@pytest.fixture
def alice_history(alice):
    return trading_history(alice, label="Alice", symbol="AAPL")


@pytest.fixture
def bob_history(bob):
    return trading_history(bob, label="Bob", symbol="MSFT")
