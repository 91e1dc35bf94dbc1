"""Where the sandbox cannot be built, untrusted code does not run: the step and the agent say what to install."""

import pytest

from execution.models import StepRun
from execution.steps.agent_team import _run_agent_code
from tests.execution.conftest import run_custom_code


@pytest.fixture
def no_bubblewrap(settings, tmp_path):
    settings.SANDBOX_BWRAP_PATH = str(tmp_path / "bwrap")


@pytest.mark.django_db(transaction=True)
def test_a_custom_code_step_fails_at_once_naming_the_missing_package(alice, no_bubblewrap):
    execution = run_custom_code(alice, "result = 1")

    [run] = StepRun.objects.filter(execution=execution, step_id="mine")  # one attempt: retrying cannot help
    assert run.status == "failed"
    assert run.error.startswith("custom_code did not run: sandbox: bubblewrap")
    assert "is not installed" in run.error and "apt-get install bubblewrap" in run.error
    assert run.output == {}  # nothing ran


def test_agents_code_is_refused_with_the_same_message(no_bubblewrap):
    outcome = _run_agent_code("result = 1", {})

    assert outcome["ok"] is False and "apt-get install bubblewrap" in outcome["error"]
