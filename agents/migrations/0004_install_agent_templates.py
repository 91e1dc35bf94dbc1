from django.db import migrations

from agents.agent_templates import DEFAULT_AGENT_TEMPLATES


def install_templates(apps, schema_editor):
    agent_template = apps.get_model("agents", "AgentTemplate")
    for template in DEFAULT_AGENT_TEMPLATES:
        agent_template.objects.update_or_create(name=template["name"], defaults=template)


def remove_templates(apps, schema_editor):
    agent_template = apps.get_model("agents", "AgentTemplate")
    agent_template.objects.filter(name__in=[template["name"] for template in DEFAULT_AGENT_TEMPLATES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0003_agent_message_stance"),
    ]

    operations = [
        migrations.RunPython(install_templates, remove_templates),
    ]
