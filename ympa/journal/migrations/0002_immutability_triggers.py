from django.db import migrations

from ympa.core.triggers import Guard, install, uninstall

ADVERSE_EVENT_CLINICAL = [
    "vaccination_id",
    "patient_id",
    "symptoms",
    "description",
    "onset_at",
    "severity",
    "serious",
    "reported_to_mpa",
    "mpa_reported_on",
    "mpa_reference",
    "recorded_at",
    "recorded_by_id",
    "signed_at",
]

GUARDS = [
    Guard(
        name="journal_version_signed",
        table="journal_vaccinationversion",
        message="signed vaccination versions are immutable",
        sqlite_when="OLD.signed_at IS NOT NULL",
        postgres_when="OLD.signed_at IS NOT NULL",
        refuse_delete_when="OLD.signed_at IS NOT NULL",
    ),
    Guard(
        name="journal_vaccination_header",
        table="journal_vaccination",
        message="a vaccination entry cannot be reopened, moved to another patient or unit, or changed after nullification",
        sqlite_when=(
            "OLD.status = 'nullified' OR (OLD.status = 'signed' AND NEW.status = 'draft') "
            "OR NEW.patient_id IS NOT OLD.patient_id OR NEW.care_unit_id IS NOT OLD.care_unit_id "
            "OR NEW.created_by_id IS NOT OLD.created_by_id"
        ),
        postgres_when=(
            "OLD.status = 'nullified' OR (OLD.status = 'signed' AND NEW.status = 'draft') "
            "OR NEW.patient_id IS DISTINCT FROM OLD.patient_id OR NEW.care_unit_id IS DISTINCT FROM OLD.care_unit_id "
            "OR NEW.created_by_id IS DISTINCT FROM OLD.created_by_id"
        ),
        refuse_all_deletes=True,
    ),
    Guard(
        name="journal_adverse_event",
        table="journal_adverseevent",
        message="a signed adverse event can only be nullified",
        sqlite_when="OLD.nullified_at IS NOT NULL OR "
        + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in ADVERSE_EVENT_CLINICAL),
        postgres_when="OLD.nullified_at IS NOT NULL OR "
        + " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in ADVERSE_EVENT_CLINICAL),
        refuse_all_deletes=True,
    ),
]


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    install(schema_editor, GUARDS)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    uninstall(schema_editor, GUARDS)


class Migration(migrations.Migration):
    dependencies = [("journal", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
