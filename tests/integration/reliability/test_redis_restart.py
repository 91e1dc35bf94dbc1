"""Redis crashes and comes back in the middle of a batch: every execution still ends, once.

Scaled for CI: 40 executions (2 wait steps of 0.3 s each) on two workers of concurrency 2 with beat,
and two crashes of the Redis server (SIGKILL, 2 s down, restarted on the same port from its
append-only file), when about a third and about two thirds of them are done. A crash can lose a
message a worker was taking, or leave one it had reserved unacknowledged for the visibility
timeout; the recovery sweep (execution.leases, every second here) sends such executions again.
"""

from collections import Counter

import pytest

from execution.models import StepRun, WorkflowExecution
from execution.services import execution_enqueue
from tests.workers import BeatProcess, WorkerProcess, wait_until, waiting_execution, waiting_workflow

pytestmark = pytest.mark.processes

EXECUTIONS = 40
STEPS = 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_redis_restart_during_a_batch_loses_and_duplicates_no_execution(alice, private_redis, worker_env):
    workflow = waiting_workflow(alice, 0.3, steps=STEPS)
    executions = [waiting_execution(alice, 0, workflow=workflow) for _ in range(EXECUTIONS)]
    ids = [execution.pk for execution in executions]
    env = {**worker_env, "EXECUTION_RECOVERY_SECONDS": "1"}
    workers = [WorkerProcess(f"redis-restart{n}", concurrency=2, env=env).start() for n in range(2)]
    beat = BeatProcess(env=env).start()
    try:
        for worker in workers:
            worker.wait_ready()
        for execution in executions:
            execution_enqueue(execution)
        done = WorkflowExecution.objects.filter(pk__in=ids, completed_at__isnull=False)
        for target in (EXECUTIONS // 3, EXECUTIONS * 2 // 3):
            wait_until(lambda n=target: done.count() >= n, timeout=120, message=f"{target} executions done")
            private_redis.restart()

        wait_until(lambda: done.count() == EXECUTIONS, timeout=150, interval=0.5, message="every execution ended")
    finally:
        beat.stop()
        for worker in workers:
            worker.stop()

    statuses = Counter(WorkflowExecution.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {"completed": EXECUTIONS}, statuses
    runs = StepRun.objects.filter(execution_id__in=ids)
    assert not runs.filter(status="running").exists()
    completed_steps = Counter(runs.filter(status="completed").values_list("execution_id", "step_id"))
    # Each step of each execution completed exactly once: nothing lost, nothing run a second time.
    assert completed_steps == {(pk, f"wait{n}"): 1 for pk in ids for n in range(STEPS)}
