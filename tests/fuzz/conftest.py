import pytest
from hypothesis import HealthCheck, settings

from tests.security.world import owned_world

# Small, derandomized runs: the same examples every time, a few seconds per property.
settings.register_profile(
    "fuzz", max_examples=60, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ = settings.get_profile("fuzz")


@pytest.fixture
def alice_world(alice):
    return owned_world(alice)
