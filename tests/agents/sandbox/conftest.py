from tests.support.sandbox_service import listener, sandbox_service  # noqa: F401 - fixtures
