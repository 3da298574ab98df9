"""The database itself refuses to change signed entries and the audit log: the triggers survive migrations."""

from __future__ import annotations

import pytest
from django.db import connection

EXPECTED_UPDATE_GUARDS = {
    "journal_version_signed_update",
    "journal_vaccination_header_update",
    "journal_adverse_event_update",
    "access_auditevent_append_only_update",
    "booking_declaration_answers_fixed_update",
    "booking_declaration_form_fixed_update",
    "booking_booking_kept_update",
}
EXPECTED_DELETE_GUARDS = {
    "journal_version_signed_delete",
    "journal_vaccination_header_delete",
    "journal_adverse_event_delete",
    "access_auditevent_append_only_delete",
    "booking_declaration_answers_fixed_delete",
    "booking_declaration_form_fixed_delete",
    "booking_booking_kept_delete",
}


@pytest.mark.django_db
def test_all_guards_are_installed_after_migrating() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            expected = EXPECTED_UPDATE_GUARDS
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            expected = EXPECTED_UPDATE_GUARDS | EXPECTED_DELETE_GUARDS
        installed = {row[0] for row in cursor.fetchall()}
    assert expected <= installed
