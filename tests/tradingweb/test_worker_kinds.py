"""The two worker kinds every run mode starts (tradingweb/worker.py), and the database they need."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from tradingweb.celery import check_connection_budget
from tradingweb.worker import worker_arguments


def option(arguments: list[str], name: str) -> str:
    return arguments[arguments.index(name) + 1]


def test_the_io_worker_runs_the_execution_queues_on_many_threads(settings):
    settings.CELERY_IO_WORKER_CONCURRENCY = 64

    arguments = worker_arguments("io")

    assert option(arguments, "--pool") == "threads" and option(arguments, "--concurrency") == "64"
    assert option(arguments, "--queues") == "high,normal,low"
    assert option(arguments, "--hostname") == "io@%h"


def test_the_cpu_worker_runs_the_chart_queue_on_one_process_per_core(settings):
    settings.CELERY_CPU_WORKER_CONCURRENCY, settings.CPU_WORK_QUEUE = 2, "cpu"

    arguments = worker_arguments("cpu")

    assert option(arguments, "--pool") == "prefork" and option(arguments, "--concurrency") == "2"
    assert option(arguments, "--queues") == "cpu" and option(arguments, "--hostname") == "cpu@%h"


def test_no_cpu_worker_starts_when_charts_are_drawn_in_the_io_worker(settings):
    settings.CPU_WORK_QUEUE = ""

    with pytest.raises(ImproperlyConfigured, match="CPU_WORK_QUEUE is empty"):
        worker_arguments("cpu")


@pytest.mark.django_db(transaction=True)
def test_a_worker_wanting_more_connections_than_postgresql_has_free_is_told_so():
    assert check_connection_budget(2) is None
    warning = check_connection_budget(100_000)
    assert warning.startswith("this worker may open 100001 database connections (concurrency 100000)")
    assert "raise max_connections" in warning
