"""HTML building blocks of the report: escaped cells, tables, paging notes.

Every text that came from the data goes through :func:`esc`; values are shown exactly as the
query side prints them (:func:`tradetrace.query.render.cell_text`: exact decimals, ISO times).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradetrace.query.render import cell_text

_NUMBERS = (int, float, Decimal)


def esc(text: Any) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def value_text(value: Any) -> str:
    """One value as display text: exact decimals, ``2025-10-24 12:00:01.5`` for times (the
    report is in UTC), six significant digits for floats."""
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return text + (f".{value.microsecond:06d}".rstrip("0") if value.microsecond else "")
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) >= 1e6 else f"{value:.6g}"
    return cell_text(value)


def is_number(value: Any) -> bool:
    return isinstance(value, _NUMBERS) and not isinstance(value, bool)


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    css: str = "",
    raw: Sequence[bool] | None = None,
) -> str:
    """An HTML table; numbers right-aligned. Cells of columns flagged in ``raw`` are inserted
    as given (already HTML), the others escaped."""
    flags = list(raw) if raw is not None else [False] * len(columns)
    head = "".join(f"<th>{esc(name)}</th>" for name in columns)
    body = []
    for row in rows:
        cells = []
        for value, is_raw in zip(row, flags, strict=True):
            if is_raw:
                cells.append(f"<td>{value if value is not None else ''}</td>")
            elif is_number(value):
                cells.append(f'<td class="num">{esc(value_text(value))}</td>')
            else:
                cells.append(f"<td>{esc(value_text(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    css_attr = f' class="{esc(css)}"' if css else ""
    return f"<table{css_attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def paging_note(shown: int, total: int, noun: str) -> str:
    """``Showing the first 500 of 12,345 errors.`` (nothing when every row is shown)."""
    if total <= shown:
        return ""
    return (
        f'<p class="note">Showing the first {shown:,} of {total:,} {esc(noun)}; '
        "query the source for the rest (<code>tradetrace sql</code>).</p>"
    )


def notes(lines: Sequence[str]) -> str:
    """Notes under a chart or table."""
    return "".join(f'<p class="note">{esc(line)}</p>' for line in lines)
