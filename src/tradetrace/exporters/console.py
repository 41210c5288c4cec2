"""Console exporter: one readable line per record (stderr by default)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import IO, Any

from tradetrace import semconv as sc
from tradetrace.exporters.base import BaseExporter, ExportResult
from tradetrace.exporters.rows import IsoTime, decimal_text, to_json
from tradetrace.records import Record

_HIDDEN = frozenset({sc.EXCEPTION_STACKTRACE})


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, (dict, list, tuple)):
        return to_json(value).decode("utf-8")
    return str(value)


class ConsoleExporter(BaseExporter):
    """``#12 2024-05-12T14:00:00.000000000Z fill fill price=67500.1 size=0.001 ...``"""

    name = "console"
    durable_on_export = True  # a returned export is in the sink (spool mode acks it)

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._iso = IsoTime()

    def format(self, record: Record) -> str:
        parts = [f"#{record.seq}", self._iso(record.time_ns), record.kind, record.name]
        if record.status:
            parts.append(f"[{record.status}]")
        if record.parent_seq is not None:
            parts.append(f"parent=#{record.parent_seq}")
        if record.duration_ns is not None:
            parts.append(f"{record.duration_ns / 1e6:.3f}ms")
        for key, value in record.attributes.items():
            if key not in _HIDDEN:
                parts.append(f"{sc.COLUMN_OF.get(key, key)}={_text(value)}")
        return " ".join(parts)

    def export(self, batch: Sequence[Record]) -> ExportResult:
        stream = self._stream or sys.stderr
        stream.write("".join(self.format(record) + "\n" for record in batch))
        stream.flush()
        return ExportResult.SUCCESS
