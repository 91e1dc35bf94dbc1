"""Test settings: the main suite runs on PostgreSQL and Redis when they are reachable.

REQUIRE_SERVICES=1 (set by .ci/run) turns an unreachable service into an error
instead of a quiet fallback to SQLite and in-memory transports.
"""

import os
import socket
import uuid
from pathlib import Path
from urllib.parse import urlparse

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=1):
            return True
    except OSError:
        return False


POSTGRES_AVAILABLE = reachable(TEST_DATABASE_URL)
REDIS_AVAILABLE = reachable(TEST_REDIS_URL)
if REQUIRE_SERVICES and not (POSTGRES_AVAILABLE and REDIS_AVAILABLE):
    raise RuntimeError(
        f"REQUIRE_SERVICES=1 but PostgreSQL ({TEST_DATABASE_URL}: {POSTGRES_AVAILABLE}) "
        f"or Redis ({TEST_REDIS_URL}: {REDIS_AVAILABLE}) is not reachable"
    )

# Each test run gets its own database name and Redis key prefix, so parallel
# runs on one machine (and their Celery queues) never see each other.
RUN_ID = os.environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:8])
os.environ.setdefault("REDIS_KEY_PREFIX", f"tw-test-{RUN_ID}:")
os.environ.setdefault("TEST_DATABASE_NAME", f"test_tradingweb_{RUN_ID}")
os.environ.setdefault("VAR_DIR", f"/tmp/tradingweb-test-{RUN_ID}")
# A worker killed in a test is taken over after seconds, not production's minute (its workers inherit this).
os.environ.setdefault("EXECUTION_LEASE_SECONDS", "10")
# A model call that keeps failing is given up after seconds, not production's three minutes.
os.environ.setdefault("LLM_RETRY_BUDGET_SECONDS", "5")
# Processes the tests start share the tests' clock when one moves it (tests/clock.py).
CLOCK_SITE = str(Path(__file__).resolve().parent / "clock_site")
if CLOCK_SITE not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [CLOCK_SITE, os.environ.get("PYTHONPATH")]))
if POSTGRES_AVAILABLE:
    os.environ.setdefault("DATABASE_URL", TEST_DATABASE_URL)
if REDIS_AVAILABLE:
    os.environ.setdefault("REDIS_URL", TEST_REDIS_URL)

from tradingweb.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# The web processes the tests start (daphne, tests/workers.py) serve the assets from the source tree,
# as `make run` serves them after collectstatic.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"  # noqa: F405
# The suite's in-process worker draws charts itself; a test of the cpu worker sets the queue for its processes.
CPU_WORK_QUEUE = os.environ.get("CPU_WORK_QUEUE", "")
