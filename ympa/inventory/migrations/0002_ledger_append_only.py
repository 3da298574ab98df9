from django.db import migrations

from ympa.core.triggers import Guard, install, uninstall

GUARDS = [
    Guard(
        name="inventory_movement_append_only",
        table="inventory_movement",
        message="the stock ledger is append-only",
        refuse_all_deletes=True,
    ),
]


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    install(schema_editor, GUARDS)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    uninstall(schema_editor, GUARDS)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
