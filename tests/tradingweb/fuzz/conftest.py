from hypothesis import HealthCheck, settings

from tests.tradingweb.security.conftest import alice_world  # noqa: F401 - the same marked world as the security tests

# Small, derandomized runs: the same examples every time, a few seconds per property.
FUZZ = settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
