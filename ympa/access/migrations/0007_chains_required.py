from django.db import migrations, models

from ympa.core.triggers import Guard, install, uninstall

# SQLite rebuilds the table to make the columns NOT NULL, which drops its triggers: lift the append-only
# guard before and put it back after (on PostgreSQL this is merely harmless).
EVENT_GUARD = Guard(
    name="access_auditevent_append_only",
    table="access_auditevent",
    message="the audit log is append-only",
    refuse_all_deletes=True,
)


def install_guard(apps, schema_editor):  # type: ignore[no-untyped-def]
    install(schema_editor, [EVENT_GUARD])


def uninstall_guard(apps, schema_editor):  # type: ignore[no-untyped-def]
    uninstall(schema_editor, [EVENT_GUARD])


class Migration(migrations.Migration):
    dependencies = [("access", "0006_chain_existing_rows")]

    operations = [
        migrations.RunPython(uninstall_guard, install_guard),
        migrations.AlterField(
            model_name="auditevent",
            name="chain",
            field=models.PositiveSmallIntegerField(editable=False),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="row_hash",
            field=models.CharField(editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(editable=False),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(fields=("chain", "seq"), name="audit_chain_seq_unique"),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.CheckConstraint(condition=models.Q(("seq__gte", 1)), name="audit_seq_from_one"),
        ),
        migrations.RunPython(install_guard, uninstall_guard),
    ]
