"""Render the semantic conventions as Markdown (the source of ``docs/semconv.md``)."""

from __future__ import annotations

from enum import Enum
from itertools import groupby

from tradetrace.semconv.attributes import ATTRIBUTES
from tradetrace.semconv.columns import KIND_COLUMNS, KIND_FILE_STEM, RECORD_COLUMNS, TABLE_COLUMNS
from tradetrace.semconv.enums import (
    STATUS_TRANSITIONS,
    EventType,
    LiquiditySide,
    Mode,
    OrderType,
    RecordKind,
    Severity,
    Side,
    Status,
    TimeInForce,
)

_ENUMS: tuple[type[Enum], ...] = (
    RecordKind, Side, OrderType, TimeInForce, LiquiditySide, Severity, Status, Mode, EventType,
)  # fmt: skip


def render_markdown() -> str:
    """Return the full semantic-conventions reference as Markdown."""
    lines = [
        "# tradetrace semantic conventions",
        "",
        "Generated from `tradetrace.semconv` by `python -m tradetrace.semconv`; do not edit.",
        "A test fails when this file is stale.",
        "",
        "## Attributes",
        "",
    ]
    for group, specs in groupby(ATTRIBUTES.values(), key=lambda spec: spec.group):
        lines += [
            f"### `{group}`",
            "",
            "| attribute | column | type | meaning | from |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| `{s.key}` | `{s.column}` | {s.type} | {s.brief} | {s.refs} |" for s in specs]
        lines.append("")
    lines += ["## Record fields", "", "Every record carries these columns:", ""]
    lines += [", ".join(f"`{c}`" for c in RECORD_COLUMNS), ""]
    lines += ["## Files and their columns", ""]
    for kind, columns in KIND_COLUMNS.items():
        lines += [
            f"### `{KIND_FILE_STEM[kind]}` ({kind.value})",
            "",
            ", ".join(f"`{c}`" for c in columns),
            "",
        ]
    lines += [
        "## The `records` table (DuckDB, Parquet)",
        "",
        "| column | SQL type |",
        "|---|---|",
        *(f"| `{name}` | {sql} |" for name, sql in TABLE_COLUMNS),
        "",
    ]
    lines += ["## Enumerations", ""]
    for enum in _ENUMS:
        lines += [f"- **{enum.__name__}**: " + ", ".join(f"`{m.value}`" for m in enum)]
    lines += ["", "## Lifecycle transitions", ""]
    for status, targets in STATUS_TRANSITIONS.items():
        allowed = ", ".join(sorted(f"`{t.value}`" for t in targets)) or "none (final)"
        lines.append(f"- `{status.value}` → {allowed}")
    lines.append("")
    return "\n".join(lines)
