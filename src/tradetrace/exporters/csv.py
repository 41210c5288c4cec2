"""CSV exporter: one file per record kind per UTC day, header once, files kept open.

``{directory}/csv/{service}_{kind}s_{YYYYMMDD}.csv``. Columns come from the semconv table (the
fills file starts with the seed trade header); attributes without a column go to one JSON
``attributes`` cell. Decimals are written digit for digit, floats by shortest repr, booleans as
``true``/``false``. Text cells that begin with ``=``, ``+``, ``-``, ``@``, tab or CR get a
leading ``'`` so spreadsheets do not run them as formulas; numbers are never touched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from tradetrace import semconv as sc
from tradetrace.exporters.base import BaseExporter, ExportResult
from tradetrace.exporters.daily_files import DailyFiles, group_by_file
from tradetrace.exporters.rows import IsoTime, compile_row, decimal_text, hex_id, to_json
from tradetrace.pipeline.run import Run
from tradetrace.records import Record

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN = frozenset({type(None), int, float})


def csv_cell(value: Any) -> Any:
    """One CSV cell from a raw value (see the module docstring for the rules)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is str:
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    if kind is Decimal:
        return decimal_text(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is dict or kind is list or kind is tuple:
        return to_json(value).decode("utf-8")
    if isinstance(value, str):
        return csv_cell(str.__str__(value))
    return csv_cell(repr(value))


_RAW_RECORD_COLUMNS = frozenset(
    {"seq", "kind", "time_ns", "observed_ns", "duration_ns", "parent_seq", "severity", "status"}
)


def csv_row_function(kind: sc.RecordKind) -> Any:
    """Build ``row(record, iso) -> list`` of finished CSV cells for ``kind``'s columns.

    Generated once per kind (see :func:`~tradetrace.exporters.rows.compile_row`): a missing
    attribute costs one ``dict.get``, and only present non-numeric values pass through
    :func:`csv_cell`.
    """
    columns = sc.KIND_COLUMNS[kind]
    in_file = frozenset(sc.ATTRIBUTE_OF[c] for c in columns if c in sc.ATTRIBUTE_OF)
    lines = []
    for column in columns:
        if column == "timestamp":
            lines.append("r.time_ns / 1_000_000_000")
        elif column == "datetime_utc":
            lines.append("iso(r.time_ns)")
        elif column == sc.ATTRIBUTES_COLUMN:
            lines.append(
                "None if a.keys() <= in_file else "
                "cell({k: v for k, v in a.items() if k not in in_file})"
            )
        elif column in sc.ATTRIBUTE_OF:
            key = sc.ATTRIBUTE_OF[column]
            lines.append(f"v if (v := a.get({key!r})) is None or type(v) in plain else cell(v)")
        elif column in _RAW_RECORD_COLUMNS:
            lines.append(f"r.{column}")
        elif column == "trace_id":
            lines.append("hex_id(r.trace_id, 32)")
        elif column in ("span_id", "parent_span_id"):
            lines.append(f"hex_id(r.{column}, 16)")
        elif column == "related_seqs":
            lines.append("cell(list(r.related_seqs)) if r.related_seqs else None")
        else:
            lines.append(f"cell(r.{column})")
    namespace = {"in_file": in_file, "plain": _PLAIN, "cell": csv_cell, "hex_id": hex_id}
    return compile_row(kind, "csv", lines, namespace)


_CSV_ROWS = {kind.value: csv_row_function(kind) for kind in sc.RecordKind}


def _header(kind: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(sc.KIND_COLUMNS[sc.RecordKind(kind)])
    return buffer.getvalue().encode("utf-8")


class CsvExporter(BaseExporter):
    """Writes ``{directory}/{service}_{kind}s_{YYYYMMDD}.csv`` files (``directory`` is the
    exporter's own folder, ``<configure directory>/csv`` when built by name)."""

    name = "csv"

    def __init__(self, directory: str | Path, service_name: str = "tradetrace") -> None:
        self.directory = Path(directory)
        self._files = DailyFiles(
            self.directory, service_name, ".csv", _header, binary=False, wrap=_with_writer
        )
        self._service = service_name
        self._iso = IsoTime()

    def open(self, run: Run) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self._service}_runs.csv"
        resource = run.to_dict()
        new = not path.exists() or path.stat().st_size == 0
        with open(path, "a", newline="", encoding="utf-8", errors="backslashreplace") as file:
            writer = csv.writer(file)
            if new:
                writer.writerow(resource)
            writer.writerow(csv_cell(v) for v in resource.values())

    def export(self, batch: Sequence[Record]) -> ExportResult:
        iso, rows_of, files = self._iso, _CSV_ROWS, self._files
        groups = group_by_file(batch, lambda record: rows_of[record.kind](record, iso))
        for (kind, day_name), rows in groups.items():
            files.get(kind, day_name)[1].writerows(rows)
        files.flush_touched()
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float) -> bool:
        self._files.flush_touched()
        return True

    def shutdown(self, timeout: float) -> None:
        self._files.close_all()

    def after_fork(self) -> None:
        self._files.forget()


def _with_writer(file: IO[Any]) -> tuple[IO[Any], Any]:
    return file, csv.writer(file)
