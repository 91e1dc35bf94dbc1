"""Indexes for the execution list's pages: one trader's executions newest first, with or without a status."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("execution", "0009_decision_owner"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name="workflowexecution", name="execution_owner_status_idx"),
        migrations.AddIndex(
            model_name="workflowexecution",
            index=models.Index(fields=["owner", "-created_at", "-id"], name="execution_owner_created_idx"),
        ),
        migrations.AddIndex(
            model_name="workflowexecution",
            index=models.Index(
                fields=["owner", "status", "-created_at", "-id"], name="execution_owner_status_idx"
            ),
        ),
    ]
