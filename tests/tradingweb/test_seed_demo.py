import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from broker.models import Instrument
from tradingweb.demo import DEMO_SYMBOLS
from workflows.models import Strategy, Workflow, WorkflowVersion
from workflows.templates import BUILTIN_TEMPLATES


@pytest.fixture(autouse=True)
def private_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def printed_password(output: str, username: str) -> str:
    return re.search(rf"login: {username} / (\S+)", output).group(1)


def snapshot() -> dict:
    user_model = get_user_model()
    return {
        "users": list(user_model.objects.order_by("pk").values_list("username", "password", "is_staff")),
        "instruments": list(Instrument.objects.order_by("pk").values_list("symbol", "conid")),
        "workflows": list(Workflow.objects.order_by("pk").values_list("name", "type", "status", "updated_at")),
        "versions": WorkflowVersion.objects.count(),
        "strategies": list(Strategy.objects.order_by("pk").values_list("name", "workflow_id", "updated_at")),
    }


@pytest.mark.django_db
def test_it_creates_a_trader_a_staff_user_instruments_templates_and_two_strategies():
    seed()

    user_model = get_user_model()
    demo = user_model.objects.get(username="demo")
    admin = user_model.objects.get(username="admin")
    assert not demo.is_staff
    assert admin.is_staff and admin.is_superuser
    assert set(Instrument.objects.values_list("symbol", flat=True)) >= set(DEMO_SYMBOLS)
    assert Workflow.objects.filter(owner=demo).count() == len(BUILTIN_TEMPLATES)
    strategies = Strategy.objects.filter(owner=demo)
    assert strategies.count() == 2
    for strategy in strategies:
        assert strategy.workflow.owner == demo
        assert strategy.instruments.exists()


@pytest.mark.django_db
def test_the_printed_passwords_log_the_users_in(client):
    output = seed()

    assert client.login(username="demo", password=printed_password(output, "demo"))
    assert client.login(username="admin", password=printed_password(output, "admin"))


@pytest.mark.django_db
def test_running_it_twice_changes_nothing_and_prints_the_same_logins():
    first = seed()
    before = snapshot()

    second = seed()

    assert snapshot() == before
    assert "nothing new" in second
    assert printed_password(second, "demo") == printed_password(first, "demo")


@pytest.mark.django_db
def test_it_does_not_print_a_password_the_user_has_since_changed():
    seed()
    demo = get_user_model().objects.get(username="demo")
    demo.set_password("a-new-secret-password")
    demo.save()

    output = seed()

    assert "changed since seeding" in output
    assert get_user_model().objects.get(username="demo").check_password("a-new-secret-password")
