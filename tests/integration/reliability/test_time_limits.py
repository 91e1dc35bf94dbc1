"""A run past its time limits ends failed with its timeout, on the io worker's threads pool as on a prefork pool.

The engine keeps the limits itself (execution.engine): at the soft limit the run starts no further
step; a step still running at the hard limit is abandoned, its sandbox child killed, and the run is
recorded failed by its own worker, once.
"""

import psutil
import pytest

from execution.models import StepRun, WorkflowExecution
from execution.services import execution_enqueue
from tests.workers import BeatProcess, KindWorkerProcess, WorkerProcess, finished, wait_until, waiting_execution
from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.processes

Status = WorkflowExecution.Status


def sleeping_workflow(owner, seconds: int) -> Workflow:
    """One custom_code step that sleeps in its sandbox without looking at the cancel flag."""
    workflow = Workflow.objects.create(owner=owner, name="Sleeps")
    steps = [
        {
            "id": "sleep",
            "type": "custom_code",
            "name": "Sleep",
            "config": {"code": f"import time\ntime.sleep({seconds})\nresult = {{}}", "timeout": seconds + 5},
        }
    ]
    workflow.current_version = WorkflowVersion.objects.create(workflow=workflow, number=1, steps=steps)
    workflow.save(update_fields=["current_version"])
    return workflow


def sandbox_processes(worker) -> list[psutil.Process]:
    """The worker's descendants still running user code in the sandbox (a killed one not yet reaped excluded)."""
    found = []
    for process in psutil.Process(worker.process.pid).children(recursive=True):
        try:
            if process.status() != psutil.STATUS_ZOMBIE and any("runner.py" in part for part in process.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


def threads_worker(env) -> WorkerProcess:
    return KindWorkerProcess("io", concurrency=4, env=env)


def prefork_worker(env) -> WorkerProcess:
    return WorkerProcess("hard-limit", env=env)


@pytest.mark.slow
@pytest.mark.parametrize("make_worker", [threads_worker, prefork_worker], ids=["io-threads", "prefork"])
@pytest.mark.django_db(transaction=True)
def test_a_run_past_the_hard_time_limit_ends_failed_with_its_timeout_and_its_sandbox_killed(
    alice, worker_env, make_worker
):
    workflow = sleeping_workflow(alice, 60)
    execution = waiting_execution(alice, 0, workflow=workflow)
    # The soft limit leaves a busy machine time to start the step (a new io worker imports on first use).
    env = {
        **worker_env,
        "CELERY_TASK_SOFT_TIME_LIMIT": "8",
        "CELERY_TASK_TIME_LIMIT": "10",
        "EXECUTION_RECOVERY_SECONDS": "1",
    }
    worker = make_worker(env).start()
    beat = BeatProcess(env=env).start()
    try:
        worker.wait_ready()
        execution_enqueue(execution)
        done = wait_until(lambda: finished(execution.pk), timeout=90, message="the stopped run settled")
        # The step's sandbox child was killed at the hard limit, not left sleeping out its minute.
        wait_until(lambda: not sandbox_processes(worker), timeout=10, message="the sandbox child was killed")
    finally:
        beat.stop()
        worker.stop()

    assert done.status == Status.FAILED
    assert done.error.startswith("Timed out: the soft time limit of 8 s was reached")
    assert done.completed_at is not None
    assert (done.attempt, done.interruptions) == (1, 0)  # it ended once, in its own run: nothing ran it again
    run = StepRun.objects.get(execution=execution)
    assert run.status == "failed" and run.error.startswith("Stopped while running: Timed out")
