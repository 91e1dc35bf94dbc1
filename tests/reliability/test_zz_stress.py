import multiprocessing, os, time
from collections import Counter
import pytest, redis
from execution.models import StepRun, WorkflowExecution
from execution.services import execution_enqueue
from tests.workers import WorkerProcess, wait_until, waiting_execution, waiting_workflow

EXECUTIONS = 40
STEPS = 2

def hog(stop):
    while not stop.is_set():
        pass

@pytest.mark.parametrize("round", range(int(os.environ.get("ROUNDS", "4"))))
@pytest.mark.django_db(transaction=True)
def test_stress(alice, private_redis, worker_env, round):
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=hog, args=(stop,)) for _ in range(2)]
    for h in hogs: h.start()
    workflow = waiting_workflow(alice, 0.3, steps=STEPS)
    executions = [waiting_execution(alice, 0, workflow=workflow) for _ in range(EXECUTIONS)]
    ids = [e.pk for e in executions]
    workers = [WorkerProcess(f"stress{n}", concurrency=2, env=worker_env).start() for n in range(2)]
    try:
        for w in workers: w.wait_ready()
        for e in executions: execution_enqueue(e)
        done = WorkflowExecution.objects.filter(pk__in=ids, completed_at__isnull=False)
        wait_until(lambda: done.count() >= EXECUTIONS // 3 + round * 3, timeout=120)
        private_redis.restart(down_seconds=0.5 + round)
        try:
            wait_until(lambda: done.count() == EXECUTIONS, timeout=150, interval=0.5)
        except AssertionError:
            r = redis.Redis.from_url(private_redis.url)
            print("KEYS", {k: r.type(k) for k in r.keys("*")})
            for k in r.keys("*"):
                t = r.type(k)
                if t == b"list": print(k, r.llen(k))
                if t == b"hash": print(k, r.hkeys(k))
            print(list(WorkflowExecution.objects.filter(pk__in=ids, completed_at__isnull=True).values("pk", "status", "attempt", "task_id")))
            for w in workers: print(w.hostname, w.log_path)
            raise
    finally:
        stop.set()
        for w in workers: w.stop()
    statuses = Counter(WorkflowExecution.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {"completed": EXECUTIONS}, statuses
    runs = StepRun.objects.filter(execution_id__in=ids)
    completed_steps = Counter(runs.filter(status="completed").values_list("execution_id", "step_id"))
    assert completed_steps == {(pk, f"wait{n}"): 1 for pk in ids for n in range(STEPS)}
