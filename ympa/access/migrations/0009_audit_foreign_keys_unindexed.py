"""The access log's foreign keys lose their single-column indexes (see AuditEvent): each was written with
every row and none was searched by.

Written by hand: Django would drop and re-add each foreign-key constraint on PostgreSQL (checking every row
again) and rebuild the table on SQLite (dropping its append-only triggers). Dropping the indexes by name is
all the database needs; the names are Django's, the same on both.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Each foreign key's index, by its column, under the name Django gave it.
INDEXES = {
    "assignment_id": "access_auditevent_assignment_id_55e265a2",
    "care_provider_id": "access_auditevent_care_provider_id_b87960b7",
    "care_unit_id": "access_auditevent_care_unit_id_fffa6da1",
    "patient_id": "access_auditevent_patient_id_22e03aee",
    "user_id": "access_auditevent_user_id_d6f4edb5",
}


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0008_log_review"),
        ("orgs", "0003_decision_support"),
        ("patients", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="assignment",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="orgs.assignment",
                    ),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="care_provider",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="orgs.careprovider",
                    ),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="care_unit",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="orgs.careunit",
                    ),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="patient",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="audit_events",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="user",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "access_auditevent" ("{column}")',
                )
                for column, name in INDEXES.items()
            ],
        ),
    ]
