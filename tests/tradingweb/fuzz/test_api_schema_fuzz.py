"""Schemathesis over the app's own OpenAPI schema (/api/schema/), in process, as a trader with a token.

Every operation the schema lists (new endpoints included) gets a few derandomized examples of
valid input, checked for no 5xx and for responses matching the schema, and a few of invalid
input, checked for no 5xx: bad input is the caller's error (4xx), never the server's.
"""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.tradingweb.security.clients import token_header

APP = WSGIHandler()
SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/?format=json", APP)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
EXAMPLES = 6  # per operation and mode: the whole schema in about a minute


def fuzz_settings(examples: int):
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def takes_input(operation) -> bool:
    """Path, query or body to get wrong (the auth header and cookie are the caller's, not input)."""
    return bool(len(operation.path_parameters) or len(operation.query) or operation.body)


@pytest.fixture
def one_database_connection():
    """Django closes the connection at each request's end, as a server would; the test's transaction must survive."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


pytestmark = pytest.mark.usefixtures("one_database_connection")


@pytest.fixture
def trader_headers(alice, alice_world):
    return {"Authorization": token_header(alice)}


def params(operations):
    return [pytest.param(operation, id=operation.label) for operation in operations]


@pytest.mark.parametrize("operation", params(OPERATIONS))
def test_valid_input_never_gets_a_server_error_and_matches_the_schema(operation, trader_headers):
    @fuzz_settings(EXAMPLES)
    @given(case=operation.as_strategy())
    def run(case):
        response = case.call(headers=trader_headers)
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
        )

    run()


@pytest.mark.parametrize("operation", params(op for op in OPERATIONS if takes_input(op)))
def test_invalid_input_never_gets_a_server_error(operation, trader_headers):
    @fuzz_settings(EXAMPLES)
    @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE))
    def run(case):
        response = case.call(headers=trader_headers)
        case.validate_response(response, checks=[not_a_server_error])

    try:
        run()
    except Unsatisfiable:
        pytest.skip("the operation takes no input that could be made invalid")
