"""Celery tasks: a few lines each, the work is in execution.engine."""

from celery import shared_task

from execution.engine import run_execution


@shared_task(name="execution.run_workflow_execution", acks_late=True, reject_on_worker_lost=True)
def run_workflow_execution(execution_id: int) -> dict:
    """Run one execution; a redelivered message finishes (or returns) the same execution, never a new one."""
    return run_execution(execution_id)
