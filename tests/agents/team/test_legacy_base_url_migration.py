"""Configs stored before providers existed: a base_url becomes the provider serving it, or is dropped."""

import importlib

import pytest
from django.apps import apps
from django.db import connection

from agents.models import ModelProvider
from agents.team_config import validate_autogen_config
from workflows.models import Strategy

migration = importlib.import_module("agents.migrations.0006_autogen_configs_pick_providers")


def migrate():
    with connection.schema_editor() as schema_editor:
        migration.pick_providers(apps, schema_editor)


@pytest.mark.django_db
def test_a_url_a_provider_serves_becomes_that_provider_and_any_other_url_is_dropped(alice, settings, caplog):
    settings.LLM_BASE_URL = "https://api.openai.com/v1"
    ModelProvider.objects.create(name="lab", base_url="http://models.internal:8000/v1", allowed_models=["llama3"])
    config = {"agents": [
        {"name": "TechnicalAnalyst", "model": "llama3", "base_url": "http://models.internal:8000/v1/"},
        {"name": "RiskManager", "base_url": "https://API.openai.com/v1"},
        {"name": "Executor", "base_url": "http://traders-own.example.com/v1"},
    ], "max_rounds": 4}
    strategy = Strategy.objects.create(owner=alice, name="Old", params={"autogen_config": config, "x": 1})

    migrate()

    strategy.refresh_from_db()
    agents = {agent["name"]: agent for agent in strategy.params["autogen_config"]["agents"]}
    assert agents["TechnicalAnalyst"] == {"name": "TechnicalAnalyst", "model": "llama3", "provider": "lab"}
    assert agents["RiskManager"] == {"name": "RiskManager", "provider": "default"}
    assert agents["Executor"] == {"name": "Executor"}
    assert strategy.params["x"] == 1 and strategy.params["autogen_config"]["max_rounds"] == 4
    assert f"strategy {strategy.pk}, agent Executor: dropped base_url" in caplog.text
    assert validate_autogen_config(strategy.params["autogen_config"]) == {}
