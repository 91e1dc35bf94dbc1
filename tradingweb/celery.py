import logging
import os

from celery import Celery, signals
from django.db import connection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradingweb.settings")

app = Celery("tradingweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.celeryd_init.connect
def shut_down_even_when_nobody_reads_the_output(**kwargs):
    """A worker's SIGTERM handler prints "worker: Warm shutdown" (a bare os.write to stdout) *before* it
    sets the flag that starts the warm shutdown (celery.apps.worker._shutdown_handler). When nothing reads
    that stdout any more (the process manager piping it died, as honcho does when its terminal closes,
    which is exactly when the parent-death signal sends this SIGTERM), the write raises BrokenPipeError
    in the handler, the flag is never set and the worker runs on. The message is not worth the shutdown
    (known upstream: celery/celery#2291)."""
    import celery.apps.worker

    say = celery.apps.worker.safe_say

    def say_if_anyone_listens(msg, *args, **kwargs):
        try:
            say(msg, *args, **kwargs)
        except OSError:
            pass

    celery.apps.worker.safe_say = say_if_anyone_listens


def check_connection_budget(concurrency: int) -> str | None:
    """A warning when PostgreSQL has fewer free connections than this worker may open, else None.

    A worker holds up to one connection per thread or pool process, and one in its main process.

    Without it, a worker whose threads outnumber the free connections fails tasks with "too many
    clients" only once they run at once, which is under load, when it matters most.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int"
            " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        )
        free = cursor.fetchone()[0] + 1  # this check's own connection is given back below
    connection.close()
    needed = concurrency + 1
    if needed <= free:
        return None
    return (
        f"this worker may open {needed} database connections (concurrency {concurrency}) but PostgreSQL has "
        f"{free} free: lower CELERY_IO_WORKER_CONCURRENCY / CELERY_CPU_WORKER_CONCURRENCY or raise max_connections"
    )


@signals.celeryd_after_setup.connect
def warn_when_the_database_cannot_take_this_worker(sender, instance, **kwargs):
    if warning := check_connection_budget(instance.concurrency):
        logging.getLogger("tradingweb.worker").warning(warning)
