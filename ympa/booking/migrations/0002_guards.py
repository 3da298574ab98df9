from django.db import migrations

from ympa.core.triggers import Guard, install, uninstall

GUARDS = [
    Guard(
        name="booking_declaration_answers_fixed",
        table="booking_healthdeclaration",
        message="a health declaration is part of the record: its answers are never changed",
        sqlite_when=(
            "OLD.answers IS NOT NEW.answers OR OLD.flagged IS NOT NEW.flagged "
            "OR OLD.patient_id IS NOT NEW.patient_id OR OLD.submitted_at IS NOT NEW.submitted_at"
        ),
        postgres_when=(
            "OLD.answers IS DISTINCT FROM NEW.answers OR OLD.flagged IS DISTINCT FROM NEW.flagged "
            "OR OLD.patient_id IS DISTINCT FROM NEW.patient_id OR OLD.submitted_at IS DISTINCT FROM NEW.submitted_at"
        ),
        refuse_all_deletes=True,
    ),
    Guard(
        name="booking_declaration_form_fixed",
        table="booking_declarationform",
        message="a declaration form is never edited: make a new one",
        sqlite_when="OLD.questions IS NOT NEW.questions",
        postgres_when="OLD.questions IS DISTINCT FROM NEW.questions",
        refuse_all_deletes=True,
    ),
    Guard(
        name="booking_booking_kept",
        table="booking_booking",
        message="a booking is never deleted or moved to another patient",
        sqlite_when="OLD.patient_id IS NOT NEW.patient_id",
        postgres_when="OLD.patient_id IS DISTINCT FROM NEW.patient_id",
        refuse_all_deletes=True,
    ),
]


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    install(schema_editor, GUARDS)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    uninstall(schema_editor, GUARDS)


class Migration(migrations.Migration):
    dependencies = [("booking", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
