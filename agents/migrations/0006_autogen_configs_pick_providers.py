"""Strategies' AutoGen configs stop naming endpoints: a base_url becomes the provider serving it, or is dropped.

Before model providers, an agent could name any `base_url`, and the installation's key went there.
A URL that is a provider's (or the default provider's, LLM_BASE_URL) becomes that provider's name;
any other URL is dropped, with a warning naming the strategy and agent, so the agent runs on the
default provider. Nothing of the dropped URL is kept, so the migration is not reversed.
"""

import logging

from django.conf import settings
from django.db import migrations

logger = logging.getLogger(__name__)


def _normal(url: str) -> str:
    return url.strip().rstrip("/").lower()


def pick_providers(apps, schema_editor):
    strategy_model = apps.get_model("workflows", "Strategy")
    provider_model = apps.get_model("agents", "ModelProvider")
    by_url = {_normal(settings.LLM_BASE_URL): settings.LLM_PROVIDER_NAME}
    by_url.update({_normal(row.base_url): row.name for row in provider_model.objects.order_by("-name")})
    for strategy in strategy_model.objects.filter(params__has_key="autogen_config"):
        config = strategy.params.get("autogen_config")
        if not isinstance(config, dict) or not isinstance(config.get("agents"), list):
            continue
        changed = False
        for agent in config["agents"]:
            if not isinstance(agent, dict) or "base_url" not in agent:
                continue
            url = agent.pop("base_url") or ""
            changed = True
            provider = by_url.get(_normal(url)) if isinstance(url, str) and url else None
            if provider and not agent.get("provider"):
                agent["provider"] = provider
            elif url and not provider:
                logger.warning(
                    "strategy %s, agent %s: dropped base_url %r, which no model provider serves; "
                    "the agent now runs on its provider (default: %s)",
                    strategy.pk, agent.get("name"), url, settings.LLM_PROVIDER_NAME,
                )
        if changed:
            strategy.save(update_fields=["params"])


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0005_model_providers_prices_budget_ledger"),
        ("workflows", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(pick_providers, migrations.RunPython.noop),
    ]
