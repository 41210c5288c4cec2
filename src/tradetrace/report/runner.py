"""What the report's builders query: anything with ``sql()``, such as an open ``Source``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import duckdb


class SqlRunner(Protocol):
    """Anything with ``sql(query)`` returning a DuckDB relation (a query ``Source``)."""

    def sql(self, query: str) -> duckdb.DuckDBPyRelation: ...


def one_row(source: SqlRunner, query: str) -> tuple[Any, ...]:
    """The single row of ``query`` (an aggregate without GROUP BY)."""
    (row,) = source.sql(query).fetchall()
    return row
