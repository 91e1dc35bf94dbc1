"""`manage.py sandbox_server`: the sandbox service on settings.SANDBOX_SOCKET (agents/sandbox/service.py)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agents.sandbox import service


class Command(BaseCommand):
    help = "Runs untrusted code for the workers, isolated by bubblewrap, on the Unix socket SANDBOX_SOCKET."
    requires_system_checks = []  # the service holds no database, broker or model settings to check

    def handle(self, *args, **options):
        if not settings.SANDBOX_SOCKET:
            raise CommandError("SANDBOX_SOCKET is not set: give the sandbox service the path of its Unix socket")
        service.serve(settings.SANDBOX_SOCKET)
