from django.db import migrations

from ympa.core.triggers import Guard, install, uninstall

GUARDS = [
    Guard(
        name="access_auditevent_append_only",
        table="access_auditevent",
        message="the audit log is append-only",
        refuse_all_deletes=True,
    ),
]


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    install(schema_editor, GUARDS)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    uninstall(schema_editor, GUARDS)


class Migration(migrations.Migration):
    dependencies = [("access", "0002_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
