"""Sandbox credentials are sealed at rest (sandbox.encryption): the column becomes
text holding the sealed form, and rows written in clear are sealed in place."""

from __future__ import annotations

from typing import Any

from django.db import migrations

import sandbox.encryption


def seal_clear_rows(apps: Any, schema_editor: Any) -> None:
    Sandbox = apps.get_model("sandbox", "Sandbox")
    # Reading goes through the new field, which still understands the clear JSON
    # of older rows; writing it back seals it.
    for row in Sandbox.objects.using(schema_editor.connection.alias).only("pk", "credentials"):
        Sandbox.objects.using(schema_editor.connection.alias).filter(pk=row.pk).update(
            credentials=row.credentials
        )


def forget_credentials(apps: Any, schema_editor: Any) -> None:
    # Going back would mean writing passwords in clear again; they are throwaway
    # (a sandbox gets new ones whenever it starts), so they are dropped instead.
    schema_editor.execute("UPDATE sandbox_sandbox SET credentials = '{}'")


class Migration(migrations.Migration):
    dependencies = [("sandbox", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="sandbox",
            name="credentials",
            field=sandbox.encryption.EncryptedJSONField(blank=True, default=dict),
        ),
        migrations.RunPython(seal_clear_rows, forget_credentials),
    ]
