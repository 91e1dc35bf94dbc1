import pytest

from workflows.models import Workflow
from workflows.services import WorkflowInUse, strategy_create, workflow_clone, workflow_delete


def test_clone_is_a_new_draft_named_copy(alice, alice_workflow):
    alice_workflow.status = Workflow.Status.ACTIVE
    alice_workflow.save()
    clone = workflow_clone(workflow=alice_workflow, owner=alice)
    assert clone.pk != alice_workflow.pk
    assert clone.name == "Alice daily (Copy)"
    assert clone.status == Workflow.Status.DRAFT
    assert clone.version_number == 1
    assert clone.steps == alice_workflow.steps
    assert clone.current_version.note == "Cloned from Alice daily v1"


def test_delete_refuses_while_strategies_use_the_workflow(alice, alice_workflow):
    strategy = strategy_create(owner=alice, name="Tech", workflow=alice_workflow)
    with pytest.raises(WorkflowInUse) as raised:
        workflow_delete(workflow=alice_workflow)
    assert raised.value.strategies == [strategy]
    alice_workflow.refresh_from_db()
    assert alice_workflow.deleted_at is None


def test_delete_is_soft_and_keeps_the_history(alice_workflow):
    workflow_delete(workflow=alice_workflow)
    alice_workflow.refresh_from_db()
    assert alice_workflow.deleted_at is not None
    assert alice_workflow.versions.count() == 1
