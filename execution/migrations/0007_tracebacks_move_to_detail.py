"""Tracebacks kept before 0005 in StepRun.output / WorkflowExecution.results move to the staff-only `detail`."""

from django.db import migrations

BATCH = 500


def _move(model, json_field: str, forwards: bool) -> None:
    rows = (
        model.objects.filter(**{f"{json_field}__has_key": "traceback"})
        if forwards
        else model.objects.exclude(detail="")
    )
    changed = []
    for row in rows.iterator(chunk_size=BATCH):
        data = dict(getattr(row, json_field) or {})
        if forwards:
            row.detail = "\n".join(filter(None, [data.pop("traceback"), row.detail]))
        elif "traceback" not in data:
            data["traceback"], row.detail = row.detail, ""
        setattr(row, json_field, data)
        changed.append(row)
        if len(changed) >= BATCH:
            model.objects.bulk_update(changed, [json_field, "detail"])
            changed = []
    model.objects.bulk_update(changed, [json_field, "detail"])


def forwards(apps, schema_editor):
    _move(apps.get_model("execution", "StepRun"), "output", True)
    _move(apps.get_model("execution", "WorkflowExecution"), "results", True)


def backwards(apps, schema_editor):
    _move(apps.get_model("execution", "StepRun"), "output", False)
    _move(apps.get_model("execution", "WorkflowExecution"), "results", False)


class Migration(migrations.Migration):
    dependencies = [
        ("execution", "0006_failure_detail_for_staff"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
