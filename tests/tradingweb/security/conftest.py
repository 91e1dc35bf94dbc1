import pytest

from tests.tradingweb.security.world import owned_world


@pytest.fixture
def alice_world(alice):
    return owned_world(alice)
