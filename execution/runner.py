"""What one delivery of the run task does: a replay runs on its original's frozen inputs, any other
execution on the live ones (execution.engine). `token` is a continuation's (see execution.leases)."""

import logging

from execution.engine import ExecutionRun
from execution.models import WorkflowExecution
from execution.replay import replay_run

logger = logging.getLogger(__name__)


def run_execution(execution_id: int, token: int | None = None) -> dict:
    """Run (or, after a redelivery or a suspension, go on running) one execution; returns its results summary."""
    execution = WorkflowExecution.objects.select_related("owner", "workflow", "version", "strategy").get(
        pk=execution_id
    )
    if execution.is_finished():
        logger.info("Execution %s is already %s; nothing to run", execution.pk, execution.status)
        return execution.results
    if execution.dry_run and "replay_of" in execution.params:
        return replay_run(execution.pk, token).as_dict()
    return ExecutionRun(execution).run(token)
