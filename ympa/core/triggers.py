"""Database triggers that refuse changes the application must never make (defence in depth).

Services already refuse these changes; the triggers make the promise hold for any code path, a shell or a
bug. On PostgreSQL they also refuse DELETE. SQLite refuses UPDATE only: Django's test flush empties tables
with DELETE, and SQLite has no TRUNCATE to tell a flush from an application delete.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.backends.base.schema import BaseDatabaseSchemaEditor

PG_REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION ympa_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END
$$;
"""


@dataclass(frozen=True)
class Guard:
    name: str
    table: str
    message: str
    # Conditions on OLD/NEW under which an UPDATE is refused; None refuses every UPDATE.
    sqlite_when: str | None = None
    postgres_when: str | None = None
    refuse_delete_when: str | None = None
    refuse_all_deletes: bool = False


def _sqlite(guard: Guard) -> list[str]:
    when = f"WHEN {guard.sqlite_when} " if guard.sqlite_when else ""
    return [
        f"CREATE TRIGGER {guard.name}_update BEFORE UPDATE ON {guard.table} FOR EACH ROW {when}"
        f"BEGIN SELECT RAISE(ABORT, '{guard.message}'); END;"
    ]


def _postgres(guard: Guard) -> list[str]:
    when = f"WHEN ({guard.postgres_when}) " if guard.postgres_when else ""
    statements = [
        f"CREATE TRIGGER {guard.name}_update BEFORE UPDATE ON {guard.table} FOR EACH ROW {when}"
        f"EXECUTE FUNCTION ympa_refuse_change('{guard.message}');"
    ]
    if guard.refuse_all_deletes or guard.refuse_delete_when:
        delete_when = f"WHEN ({guard.refuse_delete_when}) " if guard.refuse_delete_when else ""
        statements.append(
            f"CREATE TRIGGER {guard.name}_delete BEFORE DELETE ON {guard.table} FOR EACH ROW {delete_when}"
            f"EXECUTE FUNCTION ympa_refuse_change('{guard.message}');"
        )
    return statements


def install(schema_editor: BaseDatabaseSchemaEditor, guards: list[Guard]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [PG_REFUSE_FUNCTION] + [s for g in guards for s in _postgres(g)]
    elif vendor == "sqlite":
        statements = [s for g in guards for s in _sqlite(g)]
    else:
        raise RuntimeError(f"no immutability triggers for database vendor {vendor!r}")
    for statement in statements:
        schema_editor.execute(statement, params=None)


def uninstall(schema_editor: BaseDatabaseSchemaEditor, guards: list[Guard]) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    for guard in guards:
        for suffix in ("update", "delete"):
            on_table = f" ON {guard.table}" if postgres else ""
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {guard.name}_{suffix}{on_table};")
