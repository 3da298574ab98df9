from django.db import migrations

from ympa.core.triggers import Guard, install, uninstall

GUARDS = [
    Guard(
        name="authn_authevent_append_only",
        table="authn_authevent",
        message="the login trail is append-only",
        refuse_all_deletes=True,
    ),
]


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    install(schema_editor, GUARDS)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    uninstall(schema_editor, GUARDS)


class Migration(migrations.Migration):
    dependencies = [("authn", "0003_login_trail_and_one_time_codes")]
    operations = [migrations.RunPython(forwards, backwards)]
