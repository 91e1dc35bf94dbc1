"""Decision.owner: the owner of the decision's execution (or strategy), kept on the row, filled in for the
decisions already made, with the index of the decision list's pages."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_owners(apps, schema_editor):
    Decision = apps.get_model("execution", "Decision")
    WorkflowExecution = apps.get_model("execution", "WorkflowExecution")
    Strategy = apps.get_model("workflows", "Strategy")
    Decision.objects.filter(owner__isnull=True, execution__isnull=False).update(
        owner_id=Subquery(WorkflowExecution.objects.filter(pk=OuterRef("execution_id")).values("owner_id")[:1])
    )
    Decision.objects.filter(owner__isnull=True, strategy__isnull=False).update(
        owner_id=Subquery(Strategy.objects.filter(pk=OuterRef("strategy_id")).values("owner_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("execution", "0008_backtests"),
        ("workflows", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="decision",
            name="owner",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="decisions",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        # Reversed, the column goes with the field, so there is nothing to undo.
        migrations.RunPython(fill_owners, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="decision",
            index=models.Index(fields=["owner", "-created_at", "-id"], name="decision_owner_created_idx"),
        ),
    ]
