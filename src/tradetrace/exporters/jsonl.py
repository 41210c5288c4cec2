"""JSON Lines exporter, and ``export_json`` for a JSON array over a time range (as the seed).

``{directory}/{service}_{kind}s_{YYYYMMDD}.jsonl``: one object per record with every field of
the Record (``seq``, ``run_id``, ``kind``, ``name``, ``time_ns``, ``datetime_utc``, ...) and its
``attributes`` under their semconv keys (``trading.fill.price``): the faithful log, cheap to
write, read back into Records by :func:`~tradetrace.exporters.rows.record_from_json` (semconv
decimal attributes come back as ``Decimal``; Decimals nested in custom attributes and ints
beyond 64 bits come back as their exact text). Decimals are JSON strings with every digit (a
JSON number would be read back as a float), and so are ints beyond 64 bits; floats use the
shortest repr. A lone surrogate is written as ``\\udcff`` text.

After a crash, :meth:`JsonLinesExporter.recover` reads each file a replayed record could be in
once: a last line without its newline is cut unless it is a whole object (then the newline is
added), and the records already there are not written again.

``export_json`` writes the seed's shape instead: a JSON array of flat objects with the short
column names of the CSV files (``price``, ``size``, ``fee_asset``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

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
    ROW_FUNCTIONS,
    IsoTime,
    json_object,
    record_from_json,
    safe_text,
    to_json,
)
from tradetrace.pipeline.clock import to_ns
from tradetrace.pipeline.run import Run
from tradetrace.records import Record

_OPTIONS = orjson.OPT_APPEND_NEWLINE
_KEYS = {kind.value: sc.KIND_COLUMNS[kind] for kind in sc.RecordKind}
_SEQ_FIRST = b'{"seq":'  # how every line this exporter writes begins


def scan_jsonl(file: BinaryIO, wanted: Wanted) -> Scanned:
    """One pass over a JSON Lines file: where its last whole line ends and which
    ``(run_id, seq)`` of ``wanted`` it holds. A line is parsed only when its leading ``seq`` is
    wanted (or it does not start as this exporter's lines do)."""
    any_seq = set().union(*wanted.values())
    scanned = Scanned()
    torn = b""
    for line in file:
        if not line.endswith(b"\n"):
            torn = line  # only the last line
            break
        if line.startswith(_SEQ_FIRST):
            try:
                if int(line[7 : line.find(b",", 7)]) not in any_seq:
                    continue
            except ValueError:
                pass
        _match(line, wanted, scanned.found)
    scanned.end = file.tell() - len(torn)
    if torn and _match(torn, wanted, scanned.found):  # whole, only its newline is missing
        scanned.end += len(torn)
        scanned.terminator = b"\n"
    return scanned


def _match(line: bytes, wanted: Wanted, found: set[tuple[str, int]]) -> bool:
    """Whether ``line`` is a JSON object; add its ``(run_id, seq)`` to ``found`` if wanted."""
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    if type(item) is not dict:
        return False
    run, seq = item.get("run_id"), item.get("seq")
    if type(run) is str and type(seq) is int and seq in wanted.get(run, ()):
        found.add((run, seq))
    return True


def _file_key(record: Record) -> tuple[str, int]:
    """A record's ``(run_id, seq)`` as :func:`scan_jsonl` reads them back."""
    return safe_text(record.run_id), record.seq


class JsonLinesExporter(BaseExporter):
    """Writes ``{directory}/{service}_{kind}s_{YYYYMMDD}.jsonl`` files."""

    name = "jsonl"
    durable_on_export = True  # each batch is flushed to the file before export returns

    def __init__(self, directory: str | Path, service_name: str = "tradetrace") -> None:
        self.directory = Path(directory)
        self._service = service_name
        self._files = DailyFiles(self.directory, service_name, ".jsonl", lambda _: b"", True)
        self._iso = IsoTime()
        #: What :meth:`recover` found: records skipped, bytes repaired, files scanned...
        self.recovery = self._files.recovery

    def open(self, run: Run) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self._service}_runs.jsonl"
        if not ends_with(path, b"\n"):  # a crash while the last run's line was written
            self._files.repair(path, scan_jsonl)
        with open(path, "ab") as file:
            file.write(to_json(run.to_dict(), _OPTIONS))

    def recover(self, replayed: Sequence[Record]) -> Sequence[Record]:
        """Cut a torn last line and drop the replayed records the files already hold (by
        ``(run_id, seq)``); see the module docstring."""
        return self._files.recover(replayed, _file_key, scan_jsonl)

    def export(self, batch: Sequence[Record]) -> ExportResult:
        iso = self._iso
        groups = group_by_file(batch, lambda record: to_json(json_object(record, iso), _OPTIONS))
        for (kind, day_name), lines in groups.items():
            self._files.get(kind, day_name)[0].write(b"".join(lines))
        self._files.flush_touched()
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float) -> bool:
        self._files.flush_touched()
        return True

    def shutdown(self, timeout: float) -> None:
        self._files.close_all()

    def after_fork(self) -> None:
        self._files.forget()

    def export_json(
        self,
        path: str | Path,
        start: Any = None,
        end: Any = None,
        kinds: Iterable[str] | None = None,
    ) -> int:
        """Write the records already exported, with ``start <= time < end`` and of ``kinds``,
        as one JSON array of flat, seed-shaped objects (the CSV columns of each kind) to
        ``path``, ordered by time, then run and seq. Returns the count.

        Call ``flush()`` first to include records still queued.
        """
        return export_json_array(self.directory, path, start, end, kinds, self._service)


def export_json_array(
    directory: str | Path,
    path: str | Path,
    start: Any = None,
    end: Any = None,
    kinds: Iterable[str] | None = None,
    service_name: str | None = None,
) -> int:
    """Collect JSON Lines files under ``directory`` into a JSON array file (see ``export_json``)."""
    low = to_ns(start) if start is not None else None
    high = to_ns(end) if end is not None else None
    wanted = {sc.RecordKind(k).value for k in kinds} if kinds is not None else None
    service = re.escape(service_name) if service_name else ".+"
    stems = "|".join(sc.KIND_FILE_STEM.values())
    # The exact daily-file names, so that service "svc" does not collect "svc_b_fills_..."
    name = re.compile(rf"{service}_(?:{stems})_\d{{8}}(?:_\d+)?\.jsonl")
    selected: list[dict[str, Any]] = []
    for file in sorted(Path(directory).glob("*.jsonl")):
        if not name.fullmatch(file.name):
            continue
        with open(file, "rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                item = orjson.loads(line)
                t = item.get("time_ns")
                if wanted is not None and item.get("kind") not in wanted:
                    continue
                if (low is not None and t < low) or (high is not None and t >= high):
                    continue
                selected.append(item)
    selected.sort(key=lambda item: (item["time_ns"], item["run_id"], item["seq"]))
    iso = IsoTime()
    flat = []
    for item in selected:
        record = record_from_json(item)
        row = ROW_FUNCTIONS[record.kind](record, iso)
        flat.append(dict(zip(_KEYS[record.kind], row, strict=True)))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(to_json(flat, orjson.OPT_INDENT_2))
    return len(flat)
