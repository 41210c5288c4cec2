"""Query results as text: an aligned table, CSV, JSON or a Markdown table.

Exact numbers stay exact: a DECIMAL is printed with its digits (trailing zeros of the fixed
scale removed, never an exponent), in JSON as a string. JSON columns are embedded as JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TextIO

import orjson

from tradetrace.exporters.rows import to_json

FORMATS: tuple[str, ...] = ("table", "csv", "json", "markdown")
NULL = "NULL"
_NUMBERS = (int, float, Decimal)


def plain_decimal(value: Decimal) -> Decimal:
    """``value`` without the trailing zeros of a fixed scale: 0.500000 -> 0.5, 100.00 -> 100."""
    if not value.is_finite():
        return value
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(plain_decimal(value), "f")
    if isinstance(value, dict):
        return {str(_jsonable(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, timedelta):
        return str(value)
    return value


def cell_text(value: Any) -> str:
    """One value as text (``None`` as empty): exact decimals, ISO times, JSON containers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(plain_decimal(value), "f")
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return to_json(_jsonable(value)).decode("utf-8")
    return str(value)


def _json_columns(types: Sequence[Any]) -> list[bool]:
    return [str(t).upper() == "JSON" for t in types]


def _parsed(value: Any, is_json: bool) -> Any:
    if is_json and isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _short(text: str, width: int) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    if width > 0 and len(text) > width:
        return text[: max(width - 1, 0)] + "…"
    return text


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 40) -> str:
    """An aligned text table; numbers right-aligned, long cells cut at ``max_width``."""
    cells = [[_short(NULL if v is None else cell_text(v), max_width) for v in row] for row in rows]
    numeric = [
        all(isinstance(row[i], _NUMBERS) and not isinstance(row[i], bool)
            for row in rows if row[i] is not None)
        for i in range(len(columns))
    ]  # fmt: skip
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def markdown(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""

    def escape(text: str) -> str:
        return _short(text, 0).replace("|", "\\|")

    out = ["| " + " | ".join(escape(c) for c in columns) + " |"]
    out.append("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        out.append("| " + " | ".join(escape(cell_text(v)) for v in row) + " |")
    return "\n".join(out) + "\n"


def write_result(
    columns: Sequence[str],
    types: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    format: str,
    out: TextIO,
    max_width: int = 40,
) -> None:
    """Write ``rows`` in ``format`` (one of :data:`FORMATS`) to ``out``."""
    if format == "table":
        out.write(table(columns, rows, max_width))
    elif format == "markdown":
        out.write(markdown(columns, rows))
    elif format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([cell_text(v) for v in row] for row in rows)
        out.write(buffer.getvalue())
    elif format == "json":
        flags = _json_columns(types)
        objects = [
            {name: _jsonable(_parsed(value, is_json))
             for name, value, is_json in zip(columns, row, flags, strict=True)}
            for row in rows
        ]  # fmt: skip
        out.write(to_json(objects, orjson.OPT_INDENT_2).decode("utf-8") + "\n")
    else:
        raise ValueError(f"unknown format {format!r}: choose one of {', '.join(FORMATS)}")
