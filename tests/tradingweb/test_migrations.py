from io import StringIO

from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.settings import POSTGRES_AVAILABLE, REQUIRE_SERVICES


def test_every_model_change_has_a_migration(db):
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)


def test_the_fresh_test_database_has_every_migration_applied(db):
    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    assert unapplied == []


def test_the_suite_runs_on_postgresql_when_services_are_required(db):
    if REQUIRE_SERVICES or POSTGRES_AVAILABLE:
        assert connection.vendor == "postgresql"
        assert connection.settings_dict["NAME"].startswith("test_tradingweb_")
