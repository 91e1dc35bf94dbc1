import pytest

from tests.security.world import owned_world


@pytest.fixture
def alice_world(alice):
    return owned_world(alice)
