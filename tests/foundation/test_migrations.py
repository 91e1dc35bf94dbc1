from django.db import connection
from django.core.management import call_command
from io import StringIO


def test_every_model_change_has_a_migration(db):
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)


def test_the_suite_runs_on_postgresql_when_it_is_reachable(db):
    from tests.settings import POSTGRES_AVAILABLE

    if POSTGRES_AVAILABLE:
        assert connection.vendor == "postgresql"
