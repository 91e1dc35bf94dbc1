"""An agent team's decision waits for approval when the team's config asks for it."""

import pytest

from execution.models import Decision, WorkflowExecution
from tests.execution.approvals.conftest import entry_order, park_here, wait_for_end


@pytest.mark.django_db(transaction=True)
def test_the_teams_human_approval_parks_its_decision_until_approved(alice, alice_api, celery_worker):
    team_asks = {"autogen_config": {"human_approval": True}}
    execution = park_here(alice, template="autogen_multi_agent", human_approval=False, params=team_asks)
    decision = Decision.objects.get(execution=execution)
    assert decision.step_id == "agent_team" and entry_order(decision) is None

    assert alice_api.post(f"/api/workflow-executions/{execution.pk}/approve/").status_code == 202

    finished = wait_for_end(execution.pk)
    assert finished.status == WorkflowExecution.Status.COMPLETED, (finished.error, finished.results)
    assert entry_order(decision) is not None
