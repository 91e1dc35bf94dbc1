import uuid
import warnings

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection

from tests.clock import MARKET_OPEN, clock_at

pytest_plugins = ["tests.s3", "tests.support.sandbox_service", "tests.support.seed"]


@pytest.fixture(scope="session", autouse=True)
def no_stray_database_sessions(django_db_setup, django_db_blocker):
    """At the end of the run, end (and report) the sessions still open on the test database.

    A worker process still exiting, or a thread that never closed its connection, would keep
    PostgreSQL from dropping the run's database, which would then stay on the machine.
    """
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, application_name, backend_start, state, left(query, 200) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for pid, application, started, state, query in cursor.fetchall():
            warnings.warn(
                f"ending a database session left open by the run: pid {pid} {application!r}, "
                f"opened {started:%H:%M:%S}, {state}, last query: {query}",
                stacklevel=1,
            )
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def market_open():
    """The clock at a weekday in market hours whose simulated prices give approved trades (tests/clock.py)."""
    with clock_at(MARKET_OPEN) as traveller:
        yield traveller


@pytest.fixture
def alice(db):
    """A trader who owns things."""
    return User.objects.create_user("alice", "alice@example.com", "alice-password")


@pytest.fixture
def bob(db):
    """Another trader, who must not see alice's things."""
    return User.objects.create_user("bob", "bob@example.com", "bob-password")


@pytest.fixture
def staff(db):
    return User.objects.create_user("staff", "staff@example.com", "staff-password", is_staff=True, is_superuser=True)


@pytest.fixture
def alice_client(client, alice):
    """The browser of alice, logged in."""
    client.force_login(alice)
    return client


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def alice_api(alice):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(alice)
    return client


@pytest.fixture
def bob_api(bob):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(bob)
    return client


@pytest.fixture
def staff_api(staff):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff)
    return client


@pytest.fixture(scope="session")
def celery_worker(django_db_setup):
    """The one real Celery worker of the test run (thread pool, 2 slots) on high, normal and low.

    In-process, against the run's PostgreSQL database and Redis; tests using it need
    `@pytest.mark.django_db(transaction=True)`, since its threads only see committed rows.
    """
    from celery.contrib.testing.worker import start_worker

    from tests.workers import add_consumer_node
    from tradingweb.celery import app

    hostname = f"tests-{uuid.uuid4().hex[:6]}@localhost"
    with start_worker(
        app,
        pool="threads",
        concurrency=2,
        queues=list(settings.CELERY_TASK_QUEUES_BY_PRIORITY),
        perform_ping_check=False,
        shutdown_timeout=60,
        hostname=hostname,
    ) as worker:
        running = True
        add_consumer_node(hostname, lambda: running)
        yield worker
        running = False


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets a channel layer made in its own event loop.

    channels_redis keeps locks bound to the loop that first used a layer, so a layer left from an
    earlier test's loop fails in the next one ("bound to a different event loop").
    """
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
