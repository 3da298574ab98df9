"""Model instances from a hand-written SELECT, for the few statements every request runs.

The ORM spends more CPU building a query with a few joins (compiling the select list, the joins, the
converters) than PostgreSQL spends answering it once the statement is prepared. For those hot statements the
SQL is written out once, with the select list of each model made here from the model's own fields, and each
row is turned into the same instances the ORM would give (`Model.from_db`, with the fields' and the backend's
converters applied), so callers cannot tell the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model

Converter = Callable[[Any, Any, Any], Any]


class Columns:
    """The concrete columns of one model under a table alias in a hand-written SELECT."""

    def __init__(self, model: type[Model], alias: str, only: Sequence[str] = ()) -> None:
        """`only`: these fields and the primary key (deferred fields load on access, as with `.only()`)."""
        self.model = model
        self.alias = alias
        self.fields: list[Field[Any, Any]] = [
            field
            for field in model._meta.concrete_fields
            if not only or field.primary_key or field.name in only or field.attname in only
        ]
        self.attnames = [field.attname for field in self.fields]
        self.pk_index = next(index for index, field in enumerate(self.fields) if field.primary_key)
        self._converters: dict[str, list[tuple[int, list[Converter], Any]]] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def select(self) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(str(field.column))}" for field in self.fields)

    def build(self, values: Sequence[Any]) -> Model:
        """The instance for this model's part of a row (in `select()` order), converted as the ORM does."""
        converted = list(values)
        for index, converters, expression in self._converters_for():
            value = converted[index]
            for converter in converters:
                value = converter(value, expression, connection)
            converted[index] = value
        return self.model.from_db(connection.alias, self.attnames, converted)

    def _converters_for(self) -> list[tuple[int, list[Converter], Any]]:
        found = self._converters.get(connection.vendor)
        if found is None:
            found = []
            for index, field in enumerate(self.fields):
                expression = field.get_col(self.alias)
                converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(
                    connection
                )
                if converters:
                    found.append((index, converters, expression))
            self._converters[connection.vendor] = found
        return found


def split(row: Sequence[Any], parts: Sequence[Columns]) -> list[Model | None]:
    """One instance per part from a row whose select list is the parts' `select()` in order; None for a
    part whose primary key is NULL (nothing matched its LEFT JOIN)."""
    instances: list[Model | None] = []
    start = 0
    for part in parts:
        values = row[start : start + len(part)]
        instances.append(None if values[part.pk_index] is None else part.build(values))
        start += len(part)
    return instances


def fetch_all(sql: str, params: Sequence[Any], parts: Sequence[Columns]) -> list[list[Model | None]]:
    """Every row of a hand-written SELECT as instances (see `split`)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [split(row, parts) for row in cursor.fetchall()]


def get(columns: Columns, pk: Any) -> Model | None:
    """The instance with this primary key, all its fields (`Model.objects.filter(pk=pk).first()`)."""
    field = columns.model._meta.pk
    assert field is not None
    table = connection.ops.quote_name(columns.model._meta.db_table)
    sql = (
        f"SELECT {columns.select()} FROM {table} {columns.alias} "  # noqa: S608 (names from the model)
        f"WHERE {columns.alias}.{connection.ops.quote_name(str(field.column))} = %s"
    )
    found = fetch_all(sql, [field.get_db_prep_value(field.to_python(pk), connection)], [columns])
    return found[0][0] if found else None
