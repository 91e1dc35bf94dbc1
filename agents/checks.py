"""Start-up checks (`manage.py check`, runserver, migrate, the launcher): how untrusted code will run."""

import os

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security)
def sandbox_isolation(app_configs, **kwargs):
    if settings.SANDBOX_UNISOLATED:
        return [
            Warning(
                "SANDBOX_UNISOLATED=1: custom code and agents' code run WITHOUT operating-system isolation "
                "and can read this machine's files, environment and database.",
                hint="Only for a single-user machine. Install bubblewrap (apt-get install bubblewrap) and unset it.",
                id="agents.W001",
            )
        ]
    if settings.SANDBOX_SOCKET:
        return []  # the sandbox service starts bubblewrap; the health check says whether it answers
    bwrap = settings.SANDBOX_BWRAP_PATH
    if not (os.path.isfile(bwrap) and os.access(bwrap, os.X_OK)):
        return [
            Warning(
                f"bubblewrap ({bwrap}) is not installed: custom_code steps and agents' code will not run.",
                hint="apt-get install bubblewrap, or point SANDBOX_BWRAP_PATH at it.",
                id="agents.W002",
            )
        ]
    return []
