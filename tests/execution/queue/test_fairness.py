"""Within a priority, owners take turns; across priorities, high before normal before low, always.

Each owner's message goes to the priority step of its rank among the owner's waiting messages
(execution.queue_order). The runs are queued while no worker consumes; then one worker with one
process takes them, so the order of their started_at is the order the queues gave them out.
"""

import datetime

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from execution.leases import recover_stranded_executions
from execution.models import WorkflowExecution
from execution.queue_order import OWNER_HEADER, fair_message_options
from execution.services import execution_enqueue
from tests.workers import WorkerProcess, finished, wait_until, waiting_execution, waiting_workflow
from tradingweb.celery import app

pytestmark = pytest.mark.processes


def _submit(workflow, priority: str = "normal") -> WorkflowExecution:
    execution = waiting_execution(workflow.owner, 0, priority=priority, workflow=workflow)
    execution_enqueue(execution)
    return execution


def _run_in_one_process(executions) -> list[int]:
    """Starts one single-process worker, waits until every execution finished; their ids by start."""
    worker = WorkerProcess("fairness", concurrency=1).start()
    try:
        worker.wait_ready()
        wait_until(lambda: all(finished(e.pk) for e in executions), message="every execution finished")
    finally:
        worker.stop()
    rows = WorkflowExecution.objects.filter(pk__in=[e.pk for e in executions]).order_by("started_at")
    return list(rows.values_list("pk", flat=True))


def _list_lengths(queue: str) -> list[int]:
    """Messages in each of the queue's lists, step 0 first (kombu's key for step n > 0 is `<queue>\\x06\\x16<n>`)."""
    steps = settings.CELERY_BROKER_TRANSPORT_OPTIONS["priority_steps"]
    names = [queue] + [f"{queue}\x06\x16{step}" for step in steps[1:]]
    client = redis.Redis.from_url(settings.REDIS_URL)
    return [client.llen(f"{settings.REDIS_KEY_PREFIX}{name}") for name in names]


def _owner_counts(queue: str) -> dict[str, int]:
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    return {
        owner: int(count)
        for owner, count in client.hgetall(f"{settings.REDIS_KEY_PREFIX}{queue}\x06\x16owners").items()
    }


@pytest.mark.django_db(transaction=True)
def test_another_owner_s_one_run_goes_before_the_third_of_an_owner_s_ten(alice, bob, exclusive):
    alices_workflow = waiting_workflow(alice, 0, name="Alice's")
    alices = [_submit(alices_workflow) for _ in range(10)]
    bobs = _submit(waiting_workflow(bob, 0, name="Bob's"))

    order = _run_in_one_process([*alices, bobs])

    assert order.index(bobs.pk) < order.index(alices[2].pk)
    # An owner's own runs keep the order they were queued in.
    assert [pk for pk in order if pk != bobs.pk] == [e.pk for e in alices]
    assert _owner_counts("normal") == {}  # each receipt took its message off its owner's count


@pytest.mark.django_db(transaction=True)
def test_priority_stays_strict_whatever_step_an_owner_s_rank_puts_a_run_on(alice, bob, exclusive):
    normal_workflow = waiting_workflow(alice, 0, name="Routine")
    high_workflow = waiting_workflow(alice, 0, name="Urgent")
    normals = [_submit(normal_workflow) for _ in range(5)]  # steps 0 to 4 of normal
    low = _submit(waiting_workflow(bob, 0, name="Bob's"), "low")  # step 0 of low
    highs = [_submit(high_workflow, "high") for _ in range(3)]  # queued last, on steps 0 to 2 of high
    assert _list_lengths("normal") == [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert _list_lengths("high") == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]

    order = _run_in_one_process([*normals, low, *highs])

    # kombu's own key order (step 0 of every queue, then step 1, ...) would give high, normal, low, high, ...
    assert order == [e.pk for e in (*highs, *normals, low)]


@pytest.mark.django_db(transaction=True)
def test_queued_runs_on_every_step_are_counted_and_not_resent_by_the_recovery_sweep(alice, alice_api, exclusive):
    workflow = waiting_workflow(alice, 0)
    executions = [_submit(workflow) for _ in range(12)]  # steps 0 to 8, then three more on the last step
    assert _list_lengths("normal") == [1, 1, 1, 1, 1, 1, 1, 1, 1, 3]

    assert alice_api.get("/api/tasks/metrics/").json()["tasks_queued"] == {"high": 0, "normal": 12, "low": 0}
    past_every_lease = timezone.now() + datetime.timedelta(seconds=settings.EXECUTION_LEASE_SECONDS + 1)
    assert recover_stranded_executions(now=past_every_lease) == {"resent": 0, "still_queued": 12, "unknown": 0}
    assert sum(_list_lengths("normal")) == 12
    assert all(
        e.status == WorkflowExecution.Status.PENDING
        for e in WorkflowExecution.objects.filter(pk__in=[e.pk for e in executions])
    )


@pytest.mark.xfail(
    strict=False,
    reason="passes alone and beside a CPU burner, failed once in the worker-process session of a CI run: "
    "another test's messages may still share the queue; not diagnosed",
)
@pytest.mark.django_db(transaction=True)
def test_an_owner_s_count_follows_its_message_through_receipt_restore_and_purge(alice, exclusive):
    execution = waiting_execution(alice, 0, priority="low")
    app.send_task("execution.tasks.run_workflow_execution", args=[execution.pk], queue="low",
                  **fair_message_options(execution.owner_id, execution.priority))  # fmt: skip
    owner = f"owner:{alice.pk}"
    assert _owner_counts("low") == {owner: 1}
    expected = {"priority": 1, "headers": {OWNER_HEADER: owner}}
    assert fair_message_options(execution.owner_id, execution.priority) == expected

    with app.connection_for_write() as connection:
        channel = connection.channel()
        message = channel.basic_get("low")  # received, not acknowledged: what a worker holds
        assert message.headers[OWNER_HEADER] == owner
        assert _owner_counts("low") == {}
        channel.qos.restore_unacked()  # what happens to the messages of a consumer that went away
        assert _owner_counts("low") == {owner: 1}
        channel.close()

    app.control.purge()
    assert _owner_counts("low") == {}
    assert fair_message_options(execution.owner_id, execution.priority)["priority"] == 0
