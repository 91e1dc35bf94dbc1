"""Which step failures are worth another attempt, and how long to wait before it.

A transient failure (the broker or the model unreachable for a moment, a network timeout, the
sandbox service busy)
is retried by the engine, step by step, after 1, 2, 4 … seconds (settings.TASK_RETRY_BASE_SECONDS
doubling) up to settings.TASK_MAX_RETRIES times; the steps already done are kept. Anything else
(bad data, a refused order, an invalid configuration, authentication) fails at once.
"""

import os
import re
import sys
import tempfile
import traceback

from django.conf import settings

from agents.clients import TransientModelError
from agents.sandbox import SandboxBusy
from broker.adapters import PermanentBrokerError, TransientBrokerError
from execution.steps.base import CriticalError, PermanentStepError, StepSkipped

TRANSIENT_ERRORS = (TransientBrokerError, TransientModelError, SandboxBusy, ConnectionError, TimeoutError)
PERMANENT_ERRORS = (PermanentBrokerError, PermanentStepError, CriticalError, StepSkipped)
TRACEBACK_CHARS = 8000


def _chain(error: BaseException):
    """The error and the errors it was raised from, outermost first."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def is_transient(error: BaseException) -> bool:
    """True when a transient error caused `error` and nothing in its chain says it is permanent."""
    transient = False
    for link in _chain(error):
        if isinstance(link, PERMANENT_ERRORS):
            return False
        transient = transient or isinstance(link, TRANSIENT_ERRORS)
    return transient


def retry_delay(retry_number: int) -> float:
    """Seconds to wait before retry number `retry_number` (1-based): base, 2·base, 4·base …"""
    return settings.TASK_RETRY_BASE_SECONDS * 2 ** (retry_number - 1)


def may_retry(error: BaseException, retries_done: int) -> bool:
    return retries_done < settings.TASK_MAX_RETRIES and is_transient(error)


def traceback_text(error: BaseException) -> str:
    """The formatted traceback (with its causes), trimmed to its last TRACEBACK_CHARS characters."""
    return "".join(traceback.format_exception(error))[-TRACEBACK_CHARS:]


def failure_detail(error: BaseException) -> str:
    """For staff: the traceback of `error` and any detail its chain carries (a traceback from inside the sandbox)."""
    inner = [link.detail for link in _chain(error) if getattr(link, "detail", "")]
    return "\n".join([traceback_text(error), *inner])


def _server_roots() -> list[str]:
    roots = {settings.BASE_DIR, settings.VAR_DIR, settings.MEDIA_ROOT, sys.prefix, sys.base_prefix}
    roots.add(tempfile.gettempdir())
    paths = {str(root) for root in roots} | {os.path.realpath(root) for root in roots}
    return sorted((path.rstrip(os.sep) for path in paths if len(path) > 1), key=len, reverse=True)


def short_error(error: BaseException) -> str:
    """The error's type and message for its owner, with the server's directories left out ("…/file.py")."""
    text = f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    for root in _server_roots():
        text = re.sub(re.escape(root) + r"(?=/|\b)", "…", text)
    return text
