# The foreign keys below lose their own index: a composite index or unique constraint of the same table leads
# with the column, and every dose writes each index of these tables. Only the indexes are dropped (Django's
# AlterField would drop and re-add each foreign key, checking every row again, and rebuild SQLite's tables);
# their names are Django's, the same on both databases.
import django.db.models.deletion
from django.db import migrations, models

COVERED = {
    "journal_storedforecast_patient_id_d79f6265": ("journal_storedforecast", "patient_id"),
    "journal_vaccination_care_unit_id_da916f71": ("journal_vaccination", "care_unit_id"),
    "journal_vaccination_patient_id_76e419e7": ("journal_vaccination", "patient_id"),
    "journal_vaccinationversion_vaccination_id_5614528e": ("journal_vaccinationversion", "vaccination_id"),
    "journal_visit_care_unit_id_c7dc32cd": ("journal_visit", "care_unit_id"),
    "journal_visit_patient_id_cb4d21e2": ("journal_visit", "patient_id"),
}


class Migration(migrations.Migration):
    dependencies = [
        ("journal", "0004_conditions"),
        ("orgs", "0003_decision_support"),
        ("patients", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [f'DROP INDEX IF EXISTS "{name}"' for name in COVERED],
                    reverse_sql=[
                        f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")'
                        for name, (table, column) in COVERED.items()
                    ],
                )
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="storedforecast",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="forecasts",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="vaccination",
                    name="care_unit",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="vaccinations",
                        to="orgs.careunit",
                    ),
                ),
                migrations.AlterField(
                    model_name="vaccination",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="vaccinations",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="vaccinationversion",
                    name="vaccination",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="versions",
                        to="journal.vaccination",
                    ),
                ),
                migrations.AlterField(
                    model_name="visit",
                    name="care_unit",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="visits",
                        to="orgs.careunit",
                    ),
                ),
                migrations.AlterField(
                    model_name="visit",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="visits",
                        to="patients.patient",
                    ),
                ),
            ],
        )
    ]
