import os

from celery import Celery, signals
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradingweb.settings")

app = Celery("tradingweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("high", "normal", "low")]
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
