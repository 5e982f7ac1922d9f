"""``column IN (many values)`` as one bound parameter, on either store."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import BigInteger, ColumnElement, Connection, String, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstrumentedAttribute


def one_of(
    connection: Connection, column: InstrumentedAttribute[Any], values: list[Any]
) -> ColumnElement[bool]:
    """``column IN values`` with a single bound parameter however many values there are (a statement
    with one parameter per value costs more to parse than the lookup, and SQLite caps their number)."""
    if connection.dialect.name == "postgresql":
        # unnest, not ``= ANY(array)``: the planner expands an array constant element by element, and a
        # few thousand of them cost more planning time than the lookup itself.
        element = BigInteger() if isinstance(values[0], int) else String()
        array = bindparam("values", values, type_=postgresql.ARRAY(element), unique=True)
        return column.in_(select(func.unnest(array)))
    listed = func.json_each(orjson.dumps(values).decode("utf-8")).table_valued("value")
    return column.in_(select(listed.c.value))
