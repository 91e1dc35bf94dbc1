"""Indexes for the order list's pages: one trader's orders newest first, with or without a status."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("broker", "0010_exchange_rates"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name="order", name="order_owner_status_idx"),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["owner", "-created_at", "-id"], name="order_owner_created_idx"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["owner", "status", "-created_at", "-id"], name="order_owner_status_idx"),
        ),
    ]
