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
from tradetrace.exporters.daily_files import DailyFiles
from tradetrace.exporters.rows import ROW_FUNCTIONS, DayName, IsoTime, to_json
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
        return format(value, "f")
    if kind is bool:
        return "true" if value else "false"
    if kind is dict or kind is list or kind is tuple:
        return to_json(value).decode("utf-8")
    if isinstance(value, str):
        return csv_cell(str.__str__(value))
    return csv_cell(repr(value))


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
        self._day = DayName()

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
        iso, day, files = self._iso, self._day, self._files
        groups: dict[tuple[str, str], list[list[Any]]] = {}
        plain = _PLAIN
        for record in batch:
            raw = ROW_FUNCTIONS[record.kind](record, iso)
            row = [v if type(v) in plain else csv_cell(v) for v in raw]
            key = (record.kind, day(record.time_ns))
            rows = groups.get(key)
            if rows is None:
                groups[key] = [row]
            else:
                rows.append(row)
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

    def path_for(self, kind: str, day: str) -> Path:
        """Where records of ``kind`` on UTC day ``YYYYMMDD`` are written."""
        return self._files.path(kind, day)


def _with_writer(file: IO[Any]) -> tuple[IO[Any], Any]:
    return file, csv.writer(file)
