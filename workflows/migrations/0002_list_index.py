"""An index for the workflow list's pages: one trader's workflows not deleted, last changed first."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="workflow",
            index=models.Index(
                condition=models.Q(deleted_at__isnull=True),
                fields=["owner", "-updated_at", "-id"],
                name="workflow_owner_updated_idx",
            ),
        ),
    ]
