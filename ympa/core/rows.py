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

    def __init__(self, model: type[Model], alias: str) -> None:
        self.model = model
        self.alias = alias
        self.fields: list[Field[Any, Any]] = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self.pk_index = next(index for index, field in enumerate(self.fields) if field.primary_key)
        self._converters: dict[str, list[tuple[int, list[Converter], Any]]] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def select(self) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)

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
