"""API tokens move from DRF's plain-text table to django-rest-knox's hashed one, and keep working.

DRF's authtoken stored each key as it is. Each key is hashed the way knox checks keys (so the
program using it notices nothing) and given the usual expiry from today; then the plain-text
rows are deleted. The hash cannot be turned back into a key, so the migration is not reversed.
"""

from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS

LEGACY_TABLE = "authtoken_token"


def hash_legacy_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    auth_token = apps.get_model("knox", "AuthToken")
    ttl_days = settings.API_TOKEN_TTL_DAYS
    expiry = timezone.now() + timedelta(days=ttl_days) if ttl_days > 0 else None
    table = connection.ops.quote_name(LEGACY_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {table}")  # noqa: S608 - a constant table name
        legacy = cursor.fetchall()
        for key, user_id, created in legacy:
            token = auth_token(
                digest=hash_token(key), token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH], user_id=user_id, expiry=expiry
            )
            token.save(force_insert=True)
            auth_token.objects.filter(pk=token.pk).update(created=created)  # auto_now_add ignores a given value
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - a constant table name


class Migration(migrations.Migration):
    dependencies = [
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [
        migrations.RunPython(hash_legacy_tokens, migrations.RunPython.noop),
    ]
