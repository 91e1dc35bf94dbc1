import pytest

from tests.support.sandbox_service import listener, sandbox_service, sandbox_transport  # noqa: F401 - fixtures
from tests.tradingweb.security.world import owned_world


@pytest.fixture
def alice_world(alice):
    return owned_world(alice)
