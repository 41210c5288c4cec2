"""CSV exporter: one file per record kind per UTC day, header once, files kept open.

``{directory}/csv/{service}_{kind}s_{YYYYMMDD}.csv``. Columns come from the semconv table (the
fills file starts with the seed trade header); attributes without a column go to one JSON
``attributes`` cell. Decimals are written digit for digit, floats by shortest repr, booleans as
``true``/``false``. Text cells that begin with ``=``, ``+``, ``-``, ``@``, tab or CR get a
leading ``'`` so spreadsheets do not run them as formulas; numbers are never touched.

After a crash, :meth:`CsvExporter.recover` parses each file a replayed record could be in once,
from the start (a quoted cell may hold line breaks, so a row's end is only known that way): a
row is whole when it parses and ends with ``\\r\\n``. Anything after the last whole row is a
write cut short and is cut; rows of replayed records already there are not written again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson

from tradetrace import semconv as sc
from tradetrace.exporters.base import BaseExporter, ExportResult
from tradetrace.exporters.daily_files import (
    DailyFiles,
    Scanned,
    Wanted,
    ends_with,
    group_by_file,
)
from tradetrace.exporters.rows import (
    JSON_INT_RANGE,
    IsoTime,
    compile_row,
    decimal_text,
    hex_id,
    safe_text,
    to_json,
)
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


def _json_cell(value: Any) -> Any:
    """A cell of a JSON-typed column (decision inputs and result, ...), read back as JSON:
    text that would read as another JSON value (``"123"``, ``"true"``), a Decimal and an int
    beyond 64 bits are written as JSON strings, as the JSON exporters write them; other text
    as it is (formula-guarded); anything else as :func:`csv_cell` does."""
    kind = type(value)
    if kind is str:
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            return csv_cell(value)
        return to_json(value).decode("utf-8")
    if kind is int or kind is Decimal:
        return to_json(value).decode("utf-8")
    return csv_cell(value)


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
        elif column in sc.ATTRIBUTE_OF and sc.ATTRIBUTES[sc.ATTRIBUTE_OF[column]].type == "json":
            key = sc.ATTRIBUTE_OF[column]  # a JSON cell: an int too wide for JSON is a string
            lines.append(f"v if (v := a.get({key!r})) is None or type(v) is float or "
                         f"(type(v) is int and v in json_ints) else json_cell(v)")  # fmt: skip
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
    namespace = {
        "in_file": in_file, "plain": _PLAIN, "cell": csv_cell, "hex_id": hex_id,
        "json_cell": _json_cell, "json_ints": JSON_INT_RANGE,
    }  # fmt: skip
    return compile_row(kind, "csv", lines, namespace)


_CSV_ROWS = {kind.value: csv_row_function(kind) for kind in sc.RecordKind}


def _header(kind: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(sc.KIND_COLUMNS[sc.RecordKind(kind)])
    return buffer.getvalue().encode("utf-8")


#: The largest cell :func:`scan_csv` reads (``csv``'s default, 128 KiB, is below what a stack
#: trace or a snapshot in ``attributes`` can hold).
_FIELD_LIMIT = 1 << 30


def scan_csv(file: BinaryIO, wanted: Wanted) -> Scanned:
    """One pass over a CSV file written by :class:`CsvExporter`: where its last whole row ends
    and which ``(run_id cell, seq)`` of ``wanted`` its rows hold (columns found by the header).

    ``csv.reader`` is fed the file's physical lines (split on ``\\n``, decoded with
    ``surrogateescape`` so a cut multibyte character parses), counting their bytes: when it
    yields a row, its last line is the last one fed, so the row ends where the count is.
    """
    consumed = 0
    crlf = False

    def lines() -> Iterator[str]:
        nonlocal consumed, crlf
        for line in file:
            consumed += len(line)
            crlf = line.endswith(b"\r\n")
            yield line.decode("utf-8", "surrogateescape")

    # strict: a quoted cell still open at the end of the file raises instead of being a row
    reader = csv.reader(lines(), strict=True)
    texts = {run: {str(seq): seq for seq in seqs} for run, seqs in wanted.items()}
    scanned = Scanned()
    found = scanned.found
    columns: list[str] | None = None
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, _FIELD_LIMIT))
    try:
        while True:  # a malformed row raises; the reader goes on with the next line
            try:
                if columns is None:
                    for row in reader:
                        if crlf:
                            columns = row
                            scanned.end = consumed
                            break
                    if columns is None:
                        break
                if "run_id" in columns and "seq" in columns:
                    run_at, seq_at = columns.index("run_id"), columns.index("seq")
                    for row in reader:
                        if not crlf:
                            continue  # only the last row: cut short
                        scanned.end = consumed
                        try:
                            seqs = texts.get(row[run_at])
                            if seqs is not None and row[seq_at] in seqs:
                                found.add((row[run_at], seqs[row[seq_at]]))
                        except IndexError:
                            continue
                else:  # not a tradetrace file: only its torn tail matters
                    for _ in reader:
                        if crlf:
                            scanned.end = consumed
            except csv.Error:
                continue
            break
    finally:
        csv.field_size_limit(limit)
    return scanned


def _whole_rows(path: Path) -> bool:
    """Whether ``path`` ends with a whole row: a final ``\\r\\n`` outside quotes (csv.writer
    doubles quotes inside cells, so outside means after an even count of them)."""
    if not ends_with(path, b"\r\n"):
        return False
    quotes = 0
    try:
        with open(path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                quotes += chunk.count(b'"')
    except FileNotFoundError:
        return True
    return quotes % 2 == 0


def _file_key(record: Record) -> tuple[str, int]:
    """A record's ``(run_id cell, seq)`` as :func:`scan_csv` reads them back."""
    return safe_text(csv_cell(record.run_id)), record.seq


class CsvExporter(BaseExporter):
    """Writes ``{directory}/{service}_{kind}s_{YYYYMMDD}.csv`` files (``directory`` is the
    exporter's own folder, ``<configure directory>/csv`` when built by name)."""

    name = "csv"
    durable_on_export = True  # each batch is flushed to the file before export returns

    def __init__(self, directory: str | Path, service_name: str = "tradetrace") -> None:
        self.directory = Path(directory)
        self._files = DailyFiles(
            self.directory, service_name, ".csv", _header, binary=False, wrap=_with_writer
        )
        self._service = service_name
        self._iso = IsoTime()
        #: What :meth:`recover` found: records skipped, bytes repaired, files scanned...
        self.recovery = self._files.recovery

    def open(self, run: Run) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self._service}_runs.csv"
        if not _whole_rows(path):  # a crash while the last run's row was written
            self._files.repair(path, scan_csv)
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

    def recover(self, replayed: Sequence[Record]) -> Sequence[Record]:
        """Cut torn rows and drop the replayed records the files already hold (by
        ``(run_id, seq)``); see the module docstring."""
        return self._files.recover(replayed, _file_key, scan_csv)

    def force_flush(self, timeout: float) -> bool:
        self._files.flush_touched()
        return True

    def shutdown(self, timeout: float) -> None:
        self._files.close_all()

    def after_fork(self) -> None:
        self._files.forget()


def _with_writer(file: IO[Any]) -> tuple[IO[Any], Any]:
    return file, csv.writer(file)
