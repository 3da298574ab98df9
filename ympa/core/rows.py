"""Model instances from a hand-written SELECT, for the few statements every request runs.

The ORM spends more CPU building a query with a few joins (compiling the select list, the joins, the
converters) than PostgreSQL spends answering it once the statement is prepared. For those hot statements the
SQL is written out once, with the select list of each model made here from the model's own fields, and each
row is turned into the same instances the ORM would give (`Model.from_db`, with the fields' and the backend's
converters applied), so callers cannot tell the difference.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model

Converter = Callable[[Any, Any, Any], Any]


class Columns:
    """The concrete columns of one model under a table alias in a hand-written SELECT."""

    def __init__(
        self, model: type[Model], alias: str, only: Sequence[str] = (), defer: Sequence[str] = ()
    ) -> None:
        """`only`: these fields and the primary key; `defer`: all but these. Left-out fields load on access,
        as with `.only()` and `.defer()`."""
        self.model = model
        self.alias = alias
        self.fields: list[Field[Any, Any]] = [
            field
            for field in model._meta.concrete_fields
            if (not only or field.primary_key or field.name in only or field.attname in only)
            and field.name not in defer
        ]
        self.attnames = [field.attname for field in self.fields]
        self.pk_index = next(index for index, field in enumerate(self.fields) if field.primary_key)
        self._converters: dict[str, list[tuple[int, list[Converter], Any]]] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def select(self) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(str(field.column))}" for field in self.fields)

    def position(self, name: str) -> int:
        """Where field `name` is in this part's select list."""
        return next(index for index, field in enumerate(self.fields) if name in (field.name, field.attname))

    def convert(self, values: Sequence[Any]) -> list[Any]:
        """This model's part of a row (in `select()` order) as the fields' Python values, as the ORM
        converts them."""
        converted = list(values)
        for index, converters, expression in self._converters_for():
            value = converted[index]
            for converter in converters:
                value = converter(value, expression, connection)
            converted[index] = value
        return converted

    def build(self, values: Sequence[Any]) -> Model:
        """The instance for this model's part of a row (in `select()` order), converted as the ORM does."""
        return self.model.from_db(connection.alias, self.attnames, self.convert(values))

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


def fetch_values(sql: str, params: Sequence[Any], parts: Sequence[Columns]) -> list[list[Any]]:
    """Every row of a hand-written SELECT as converted values (`Columns.convert`, the parts one after the
    other), for reads that want a few values of many rows and no instances."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    result: list[list[Any]] = []
    for row in found:
        values: list[Any] = []
        start = 0
        for part in parts:
            values.extend(part.convert(row[start : start + len(part)]))
            start += len(part)
        result.append(values)
    return result


def get(columns: Columns, pk: Any) -> Model | None:
    """The instance with this primary key (`Model.objects.filter(pk=pk).first()`)."""
    field = columns.model._meta.pk
    assert field is not None
    return get_by(columns, field.name, pk)


def get_by(columns: Columns, name: str, value: Any) -> Model | None:
    """The instance whose unique field `name` has this value (`Model.objects.filter(name=value).first()`)."""
    field = columns.model._meta.get_field(name)
    assert isinstance(field, Field)
    table = connection.ops.quote_name(columns.model._meta.db_table)
    sql = (
        f"SELECT {columns.select()} FROM {table} {columns.alias} "  # noqa: S608 (names from the model)
        f"WHERE {columns.alias}.{connection.ops.quote_name(str(field.column))} = %s"
    )
    found = fetch_all(sql, [field.get_db_prep_value(field.to_python(value), connection)], [columns])
    return found[0][0] if found else None


@functools.cache
def _insert_sql(model: type[Model], columns: tuple[str, ...], returning: str | None) -> str:
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    return f"{sql} RETURNING {quote(returning)}" if returning else sql


def insert(instance: Model) -> None:
    """Insert a new instance as `save(force_insert=True)` does (fields' pre_save and adaptation, a database-
    generated primary key read back), in one written-out statement: for rows every recorded dose inserts."""
    meta = instance._meta
    pk = meta.pk
    assert pk is not None
    generated = getattr(instance, pk.attname) is None and pk.db_returning
    fields = [field for field in meta.concrete_fields if not (generated and field is pk)]
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    columns = tuple(str(field.column) for field in fields)
    sql = _insert_sql(type(instance), columns, str(pk.column) if generated else None)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        if generated:
            row = cursor.fetchone()
            assert row is not None
            setattr(instance, pk.attname, pk.to_python(row[0]))
    instance._state.adding = False
    instance._state.db = connection.alias
