"""Every step type of the catalogue has one implementation, found by name."""

import pytest

from execution.steps import STEP_IMPLEMENTATIONS, get_step
from execution.steps.base import PermanentStepError
from workflows.steps import STEP_TYPES


def test_every_catalogued_step_type_has_an_implementation():
    assert set(STEP_IMPLEMENTATIONS) == set(STEP_TYPES)


def test_it_refuses_an_unknown_step_type():
    with pytest.raises(PermanentStepError, match="unknown step type 'teleport'"):
        get_step("teleport")

