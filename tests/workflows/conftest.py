import copy

import pytest

from workflows.services import workflow_create
from workflows.templates import TEMPLATES_BY_TYPE


def template_definition(workflow_type: str = "single_timeframe") -> dict:
    """Deep copies of a built-in template's steps and parameters, safe to edit in a test."""
    template = TEMPLATES_BY_TYPE[workflow_type]
    return {"steps": copy.deepcopy(template["steps"]), "parameters": copy.deepcopy(template["parameters"])}


@pytest.fixture
def alice_workflow(alice):
    return workflow_create(owner=alice, name="Alice daily", type="single_timeframe", **template_definition())
