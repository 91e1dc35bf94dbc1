import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradingweb.settings")

app = Celery("tradingweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("high", "normal", "low")]
app.autodiscover_tasks()
