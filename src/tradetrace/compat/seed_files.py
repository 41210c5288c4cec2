"""The seed TradeLogger's files, written by an exporter (on its own thread, never the caller's).

``{base_dir}/csv/{strategy}_{trades|decisions|errors}_{YYYYMMDD}.csv`` with exactly the seed's
headers, one file per UTC day of the entry's timestamp, header once; and
``{base_dir}/json/{strategy}_{trades|decisions|errors}_{YYYYMMDD}.json``: a JSON array of the
same fields, one entry per line, kept valid after every write. JSON entries wait in a small
buffer (``buffer_size`` per file, as the seed's in-memory buffers) and are written when it is
full, when the day changes, on ``flush()`` and at shutdown.

Cells reuse the CSV exporter's rules (:func:`~tradetrace.exporters.csv.csv_cell`): Decimals
digit for digit, floats by shortest repr, ``parameters``/``result`` as JSON. The seed columns are
the first columns of tradetrace's own layouts (``semconv.KIND_COLUMNS``), so rows are those of the
CSV and JSON Lines exporters, cut to the seed's width.
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import orjson

from tradetrace import semconv as sc
from tradetrace.exporters.base import BaseExporter, ExportResult
from tradetrace.exporters.csv import FORMULA_PREFIXES, csv_cell, csv_row_function
from tradetrace.exporters.daily_files import DailyFiles, group_by_file
from tradetrace.exporters.rows import ROW_FUNCTIONS, DayName, to_json
from tradetrace.records import Record

FILL, DECISION, ERROR = (sc.RecordKind.FILL.value, sc.RecordKind.DECISION.value,
                         sc.RecordKind.ERROR.value)  # fmt: skip

TRADE_COLUMNS: tuple[str, ...] = (
    "timestamp", "datetime_utc", "order_id", "client_order_id", "symbol", "side", "order_type",
    "price", "size", "fee", "fee_asset", "realized_pnl", "spread_captured", "inventory_before",
    "inventory_after", "equity_before", "equity_after", "notes",
)  # fmt: skip
DECISION_COLUMNS: tuple[str, ...] = (
    "timestamp", "datetime_utc", "decision_type", "symbol", "parameters", "result", "reason",
    "notes",
)  # fmt: skip
ERROR_COLUMNS: tuple[str, ...] = (
    "timestamp", "datetime_utc", "error_type", "severity", "symbol", "message", "exception_type",
    "exception_message", "stack_trace", "recovery_action", "notes",
)  # fmt: skip

#: Record kind -> the seed's columns for it.
SEED_COLUMNS: dict[str, tuple[str, ...]] = {
    FILL: TRADE_COLUMNS,
    DECISION: DECISION_COLUMNS,
    ERROR: ERROR_COLUMNS,
}
#: Record kind -> the seed's word in file names.
FILE_STEMS: dict[str, str] = {FILL: "trades", DECISION: "decisions", ERROR: "errors"}
#: Attribute carrying an entry's ``datetime_utc`` text when it is not what its timestamp gives.
DATETIME_TEXT = "trade_logger.datetime_utc"

_NUMERIC = {
    FILL: frozenset(TRADE_COLUMNS[7:10] + TRADE_COLUMNS[11:17] + ("timestamp",)),
    DECISION: frozenset({"timestamp"}),
    ERROR: frozenset({"timestamp"}),
}
_JSON_CELLS = frozenset({"parameters", "result"})

for _kind, _columns in SEED_COLUMNS.items():  # the rows below are cut from these layouts
    if sc.KIND_COLUMNS[sc.RecordKind(_kind)][: len(_columns)] != _columns:
        raise RuntimeError(f"semconv.KIND_COLUMNS[{_kind!r}] no longer starts with the seed's")

_CSV_ROWS = {kind: csv_row_function(sc.RecordKind(kind)) for kind in SEED_COLUMNS}
_EPOCH = datetime(1970, 1, 1)
_DAY = DayName()
_NS = Decimal(1_000_000_000)


class _SeedDatetime:
    """ns since the epoch -> the seed's ``datetime_utc``: naive ISO 8601, UTC, microseconds
    (rounded half-even, as ``datetime.fromtimestamp``); the date part computed once a second."""

    def __init__(self) -> None:
        self._cached: tuple[int, str] = (-1, "")  # one tuple: threads never see half an update

    def __call__(self, ns: int) -> str:
        second, micros = divmod(round(ns, -3) // 1000, 1_000_000)
        cached_second, prefix = self._cached
        if second != cached_second:
            prefix = (_EPOCH + timedelta(seconds=second)).isoformat()
            self._cached = (second, prefix)
        return f"{prefix}.{micros:06d}"


seed_datetime = _SeedDatetime()


def seconds_to_ns(seconds: Any) -> int:
    """Unix seconds (float by its shortest repr, int, Decimal or decimal text) -> int ns."""
    if type(seconds) is int:
        return seconds * 1_000_000_000
    exact = Decimal(repr(seconds)) if isinstance(seconds, float) else Decimal(seconds)
    return int((exact * _NS).to_integral_value())


class _SeedDailyFiles(DailyFiles):
    """:class:`DailyFiles` with the seed's file stems (``trades`` for fills)."""

    def __init__(self, directory: Path, strategy: str, suffix: str, **options: Any) -> None:
        super().__init__(directory, strategy, suffix, **options)
        self._stem_prefix = strategy
        self._extension = suffix

    def path(self, kind: str, day: str, index: int = 1) -> Path:
        stem = f"{self._stem_prefix}_{FILE_STEMS[kind]}_{day}"
        return self.directory / f"{stem}{'' if index == 1 else f'_{index}'}{self._extension}"


_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    """One lock per file in this process: two loggers of one strategy never interleave."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path, threading.Lock())


def _csv_header(kind: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(SEED_COLUMNS[kind])
    return buffer.getvalue().encode("utf-8")


def _with_writer(file: IO[Any]) -> tuple[IO[Any], Any]:
    return file, csv.writer(file)


class TradeLoggerFiles(BaseExporter):
    """Writes the seed TradeLogger's CSV and JSON daily files under ``base_dir``."""

    name = "trade_logger"

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        strategy: str,
        *,
        csv: bool = True,
        json: bool = True,
        buffer_size: int = 100,
    ) -> None:
        if buffer_size < 1:
            raise ValueError(f"buffer_size={buffer_size!r}: must be at least 1")
        self.base_dir = Path(base_dir)
        self.strategy = strategy
        self.buffer_size = buffer_size
        self._csv = (
            _SeedDailyFiles(self.base_dir / "csv", strategy, ".csv", header=_csv_header,
                            binary=False, wrap=_with_writer)
            if csv else None
        )  # fmt: skip
        self._json = (
            _SeedDailyFiles(self.base_dir / "json", strategy, ".json", header=lambda _: b"[",
                            binary=True)
            if json else None
        )  # fmt: skip
        self._pending: dict[tuple[str, str], list[bytes]] = {}
        self._latest_day: dict[str, str] = {}

    def export(self, batch: Sequence[Record]) -> ExportResult:
        records = [record for record in batch if record.kind in SEED_COLUMNS]
        if records and self._csv is not None:
            self._write_csv(self._csv, records)
        if records and self._json is not None:
            self._buffer_json(records)
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float) -> bool:
        self._write_json_buffers(everything=True)
        if self._csv is not None:
            self._csv.flush_touched()
        return True

    def shutdown(self, timeout: float) -> None:
        try:
            self._write_json_buffers(everything=True)
        finally:
            for files in (self._csv, self._json):
                if files is not None:
                    files.close_all()

    def after_fork(self) -> None:
        for files in (self._csv, self._json):
            if files is not None:
                files.forget()
        self._pending = {}
        self._latest_day = {}

    # --- CSV -----------------------------------------------------------------------------

    @staticmethod
    def _csv_row(record: Record) -> list[Any]:
        kind = record.kind
        row = _CSV_ROWS[kind](record, seed_datetime)[: len(SEED_COLUMNS[kind])]
        text = record.attributes.get(DATETIME_TEXT)
        if text is not None:
            row[1] = csv_cell(text)
        return row

    def _write_csv(self, files: DailyFiles, records: list[Record]) -> None:
        for (kind, day), rows in group_by_file(records, self._csv_row).items():
            with _lock_for(files.path(kind, day)):
                file, writer = files.get(kind, day)
                writer.writerows(rows)
                file.flush()  # inside the lock: the next writer sees these bytes

    # --- JSON ----------------------------------------------------------------------------

    @staticmethod
    def _json_item(record: Record) -> bytes:
        kind = record.kind
        columns = SEED_COLUMNS[kind]
        values = ROW_FUNCTIONS[kind](record, seed_datetime)[: len(columns)]
        item = dict(zip(columns, values, strict=True))
        text = record.attributes.get(DATETIME_TEXT)
        if text is not None:
            item["datetime_utc"] = text
        return to_json(item)

    def _buffer_json(self, records: list[Record]) -> None:
        for (kind, day), items in group_by_file(records, self._json_item).items():
            self._pending.setdefault((kind, day), []).extend(items)
            if day > self._latest_day.get(kind, ""):
                self._latest_day[kind] = day
        self._write_json_buffers(everything=False)

    def _write_json_buffers(self, everything: bool) -> None:
        """Write buffers that are full or of a finished day (all of them if ``everything``)."""
        files = self._json
        if files is None:
            return
        for key in list(self._pending):
            kind, day = key
            if (
                everything
                or len(self._pending[key]) >= self.buffer_size
                or (day < self._latest_day[kind])
            ):
                items = self._pending.pop(key)
                with _lock_for(files.path(kind, day)):
                    _append_to_array(files.get(kind, day)[0], items)


def _append_to_array(file: IO[bytes], items: list[bytes]) -> None:
    """Append ``items`` (encoded JSON values) to the JSON array in ``file``'s path.

    The new items and a new closing ``]`` are written over the old ``]`` in one write, so the
    file is never left without its end. Works on arrays written by the seed (``json.dump(...,
    indent=2)``) too.
    """
    file.flush()  # the "[" of a file just created
    with open(file.name, "r+b") as out:
        size = out.seek(0, os.SEEK_END)
        start = max(0, size - 4096)
        out.seek(start)
        body = out.read().rstrip()
        if body.endswith(b"]"):
            body = body[:-1].rstrip()
        comma = b"" if body.endswith((b"[", b",")) else b","
        out.seek(start + len(body))
        out.write(comma + b"\n" + b",\n".join(items) + b"\n]\n")
        out.truncate()


# --- reading the daily files back (TradeLogger.export_to_json) ----------------------------


def _daily_files(
    directory: Path, strategy: str, kind: str, suffix: str
) -> Iterator[tuple[Path, str]]:
    """(path, YYYYMMDD) of the daily files of ``kind`` (not the ``_export_`` files)."""
    name = re.compile(
        rf"{re.escape(strategy)}_{FILE_STEMS[kind]}_(\d{{8}})(?:_\d+)?{re.escape(suffix)}"
    )
    for path in sorted(directory.glob(f"*{suffix}")):
        match = name.fullmatch(path.name)
        if match is not None:
            yield path, match.group(1)


def read_entries(
    base_dir: str | os.PathLike[str],
    strategy: str,
    kind: str,
    source: str = "json",
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> list[dict[str, Any]]:
    """Entries of ``kind`` with ``start_ns <= timestamp <= end_ns`` from the daily ``json`` (or
    ``csv``) files, as seed-shaped dicts ordered by timestamp.

    From JSON, values come back as written (Decimals as exact text). From CSV, numbers that a
    float writes back identically become floats, integers ints, others exact text;
    ``parameters`` and ``result`` are parsed JSON.
    """
    suffix = ".json" if source == "json" else ".csv"
    first = _DAY(start_ns) if start_ns is not None else "00000000"
    last = _DAY(end_ns) if end_ns is not None else "99999999"
    selected: list[dict[str, Any]] = []
    directory = Path(base_dir) / source
    for path, day in _daily_files(directory, strategy, kind, suffix):
        if not first <= day <= last:
            continue
        # the writers' lock for this day (they lock by the day's first name): no half writes
        with _lock_for(directory / f"{strategy}_{FILE_STEMS[kind]}_{day}{suffix}"):
            items = orjson.loads(path.read_bytes()) if source == "json" else _read_csv(path, kind)
        for item in items:
            ns = seconds_to_ns(item["timestamp"])
            if (start_ns is None or ns >= start_ns) and (end_ns is None or ns <= end_ns):
                selected.append(item)
    selected.sort(key=lambda item: seconds_to_ns(item["timestamp"]))
    return selected


def _read_csv(path: Path, kind: str) -> list[dict[str, Any]]:
    numeric = _NUMERIC[kind]
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        for column, text in row.items():
            if column in numeric:
                row[column] = _number_from_text(text)
            elif column in _JSON_CELLS and text:
                row[column] = orjson.loads(text)
            elif text.startswith("'") and text[1:2] and text[1] in FORMULA_PREFIXES:
                row[column] = text[1:]
    return rows


def _number_from_text(text: str) -> Any:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if repr(value) == text else text  # exact text, as JSON holds Decimals
