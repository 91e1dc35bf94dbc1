"""The two kinds of Celery worker, and `python -m tradingweb.worker io|cpu [celery worker options]`.

- io: a threads pool of CELERY_IO_WORKER_CONCURRENCY on the execution queues (high, normal, low), where
  the maintenance tasks go too. An execution mostly waits (the model, the broker, a chart being drawn),
  and a waiting thread costs no core, so one io worker runs dozens of executions at once.
- cpu: a prefork pool of CELERY_CPU_WORKER_CONCURRENCY (the cores) on CPU_WORK_QUEUE: chart drawing.

The launcher (make run), the Procfile (make up) and docker-compose.yml all start workers through
this module, so each kind has the same pool, concurrency and queues in every run mode. Options after
the kind go to `celery worker` as they are (a later --hostname or --concurrency wins).
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradingweb.settings")

from django.conf import settings  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

KINDS = ("io", "cpu")


def worker_arguments(kind: str) -> list[str]:
    """The `celery worker` arguments of a worker of this kind (node name `<kind>@<host>`)."""
    if kind == "io":
        pool, concurrency = "threads", settings.CELERY_IO_WORKER_CONCURRENCY
        queues = settings.CELERY_TASK_QUEUES_BY_PRIORITY
    elif kind == "cpu":
        if not settings.CPU_WORK_QUEUE:
            raise ImproperlyConfigured("CPU_WORK_QUEUE is empty: charts are drawn in the io worker, no cpu worker runs")
        pool, concurrency, queues = "prefork", settings.CELERY_CPU_WORKER_CONCURRENCY, (settings.CPU_WORK_QUEUE,)
    else:
        raise ImproperlyConfigured(f"a worker kind is one of {', '.join(KINDS)}, not {kind!r}")
    return [
        "worker", "--pool", pool, "--concurrency", str(concurrency), "--queues", ",".join(queues),
        "--hostname", f"{kind}@%h",
    ]  # fmt: skip


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in KINDS:
        sys.exit(f"usage: python -m tradingweb.worker {{{'|'.join(KINDS)}}} [celery worker options]")
    command = [sys.executable, "-m", "celery", "-A", "tradingweb", *worker_arguments(argv[0]), *argv[1:]]
    os.execv(sys.executable, command)  # the same process: signals and the parent-death signal reach Celery


if __name__ == "__main__":
    main(sys.argv[1:])
