"""Parquet exporter: hive-partitioned files that DuckDB, pandas, polars and Spark read as they are.

``{directory}/kind=<kind>/date=<YYYY-MM-DD>/<run_id>-<n>.parquet``, ``date`` being the UTC day
of event time. Every file has the unified ``records`` schema of
:mod:`~tradetrace.exporters.arrow_table` (decimals as ``decimal128(38,18)``), except that
``kind`` is dictionary-encoded: pyarrow (hence ``pandas.read_parquet``) reads hive partition
values as dictionaries and refuses a file column of the same name with another type.

Rows are gathered per (run, kind, day) and a file is written when a group reaches
``rows_per_file`` rows, on ``force_flush`` and on ``shutdown``, so a long run makes a few large
files rather than thousands of small ones. When everything gathered exceeds twice
``rows_per_file`` (many kinds or days at once), the largest groups are written first.

A file is written under a temporary name (``.<name>.tmp``, which readers ignore) and then
linked to its final name, which never replaces an existing file: ``<n>`` counts up until the
name is free, so two exporters, processes or runs with the same run id never collide. Parquet
files cannot be appended to: rows still gathered when the process dies are lost (pair with the
``jsonl`` exporter for a log that is written batch by batch). Re-delivered batches are written
again; readers that need uniqueness deduplicate on ``(run_id, seq)``.

After a crash, :meth:`ParquetExporter.recover` reads the ``run_id`` and ``seq`` columns of the
run's files in the folders the replayed records belong to (only the row groups whose statistics
allow a replayed seq) and drops the records already written by a rotation before the crash. It
also removes the temporary files a dead process left there (killed between write and link).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tradetrace.exporters.arrow_table import SCHEMA, records_table
from tradetrace.exporters.base import BaseExporter, ExportResult
from tradetrace.pipeline.run import Run, check_file_name_part
from tradetrace.records import Record

logger = logging.getLogger("tradetrace")

#: Rows per file (one row group) unless flushed earlier.
ROWS_PER_FILE = 100_000
#: A temporary file untouched for this long, of a process that is gone, is a leftover.
LEFTOVER_AFTER_S = 60.0
_TEMPORARY = re.compile(r"\..+-([0-9]+)-[0-9a-f]{8}\.parquet\.tmp")
_NS_PER_DAY = 86_400 * 1_000_000_000
_EPOCH = date(1970, 1, 1)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_KIND = SCHEMA.get_field_index("kind")
_KIND_TYPE = pa.dictionary(pa.int32(), pa.string())

#: The schema of every Parquet file: :data:`~tradetrace.exporters.arrow_table.SCHEMA` with a
#: dictionary-encoded ``kind``.
PARQUET_SCHEMA = SCHEMA.set(_KIND, pa.field("kind", _KIND_TYPE))

Group = tuple[str, str, int]  # run_id, kind, UTC day number


def file_stem(run_id: str) -> str:
    """``run_id`` as the start of a file name: as it is when safe (``check_file_name_part``),
    else with every character but letters, digits, ``_``, ``-`` and ``.`` replaced by ``_``."""
    try:
        return check_file_name_part("run_id", run_id)
    except ValueError:
        return "run_" + _UNSAFE.sub("_", run_id).replace("..", "__")[:100]


def day_name(day: int) -> str:
    """``YYYY-MM-DD`` of a day number since the epoch."""
    return (_EPOCH + timedelta(days=day)).isoformat()


def _groups(batch: Sequence[Record], table: pa.Table) -> Iterator[tuple[Group, pa.Table]]:
    """Split a batch's table by (run, kind, UTC day); no copy when the batch is all one group."""
    first = batch[0]
    day = first.time_ns // _NS_PER_DAY
    low, high = day * _NS_PER_DAY, (day + 1) * _NS_PER_DAY
    times = pc.min_max(table.column("time_ns"))
    if (
        low <= times["min"].as_py()
        and times["max"].as_py() < high
        and pc.count_distinct(table.column("kind")).as_py() == 1
        and pc.count_distinct(table.column("run_id")).as_py() == 1
    ):
        yield (first.run_id, first.kind, day), table
        return
    rows: dict[Group, list[int]] = {}
    for index, r in enumerate(batch):
        rows.setdefault((r.run_id, r.kind, r.time_ns // _NS_PER_DAY), []).append(index)
    for key, indices in rows.items():
        yield key, table.take(pa.array(indices, pa.int32()))


def parquet_table(table: pa.Table) -> pa.Table:
    """``table`` as written to a file: ``kind`` dictionary-encoded, each column in one chunk,
    except all-null ones, which stay as they are (chunks shared between batches cost no
    memory; combining them would allocate every null)."""
    columns = []
    for index, column in enumerate(table.columns):
        if index == _KIND:
            column = pa.chunked_array([column.combine_chunks().dictionary_encode()], _KIND_TYPE)
        elif column.num_chunks > 1 and column.null_count < len(column):
            column = pa.chunked_array([column.combine_chunks()], column.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=PARQUET_SCHEMA)


class ParquetExporter(BaseExporter):
    """Writes ``{directory}/kind=<kind>/date=<YYYY-MM-DD>/<run_id>-<n>.parquet`` files."""

    name = "parquet"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        rows_per_file: int = ROWS_PER_FILE,
        compression: str = "zstd",
    ) -> None:
        if rows_per_file < 1:
            raise ValueError("rows_per_file must be at least 1")
        self.directory = Path(directory)
        self.rows_per_file = rows_per_file
        self.compression = compression
        self.files_written: list[Path] = []
        self._gathered: dict[Group, list[pa.Table]] = {}
        self._rows: dict[Group, int] = {}
        self._total = 0
        self._next = 1
        #: What :meth:`recover` found (for health()).
        self.recovery: dict[str, int] = {
            "skipped": 0,
            "files_scanned": 0,
            "files_unreadable": 0,
            "temporary_removed": 0,
        }

    def open(self, run: Run) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def recover(self, replayed: Sequence[Record]) -> Sequence[Record]:
        """Drop the replayed records that files already hold (by ``(run_id, seq)``); remove
        leftover temporary files in their folders. See the module docstring."""
        folders: dict[tuple[str, str, int], dict[str, set[int]]] = {}
        for r in replayed:
            group = (file_stem(r.run_id), r.kind, r.time_ns // _NS_PER_DAY)
            folders.setdefault(group, {}).setdefault(r.run_id, set()).add(r.seq)
        found: set[tuple[str, int]] = set()
        for (stem, kind, day), wanted in folders.items():
            folder = self.directory / f"kind={kind}" / f"date={day_name(day)}"
            try:
                names = sorted(os.listdir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue
            self._remove_leftovers(folder, names)
            ours = re.compile(re.escape(stem) + r"-[0-9]+\.parquet")
            for name in names:
                if ours.fullmatch(name):
                    found.update(self._written(folder / name, wanted))
        kept = [r for r in replayed if (r.run_id, r.seq) not in found]
        self.recovery["skipped"] += len(replayed) - len(kept)
        return kept

    def export(self, batch: Sequence[Record]) -> ExportResult:
        if not batch:
            return ExportResult.SUCCESS
        for group, part in _groups(batch, records_table(batch)):
            self._gathered.setdefault(group, []).append(part)
            self._rows[group] = self._rows.get(group, 0) + part.num_rows
            self._total += part.num_rows
            if self._rows[group] >= self.rows_per_file:
                self._write(group)
        while self._total > 2 * self.rows_per_file:
            self._write(max(self._rows, key=self._rows.__getitem__))
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float) -> bool:
        for group in list(self._gathered):
            self._write(group)
        return True

    def shutdown(self, timeout: float) -> None:
        self.force_flush(timeout)

    def after_fork(self) -> None:
        """Forget the parent's gathered rows: the parent writes them."""
        self._gathered, self._rows, self._total = {}, {}, 0
        self.files_written = []

    def _written(self, path: Path, wanted: dict[str, set[int]]) -> set[tuple[str, int]]:
        """The ``(run_id, seq)`` of ``wanted`` in one file (two columns, filtered on read)."""
        self.recovery["files_scanned"] += 1
        seqs = sorted(set().union(*wanted.values()))
        try:
            table = pq.read_table(
                path,
                columns=["run_id", "seq"],
                filters=[("run_id", "in", sorted(wanted)), ("seq", "in", seqs)],
            )
        except (OSError, pa.ArrowException) as exc:  # not ours, or damaged: keep its records
            logger.warning("tradetrace: cannot read %s to recover: %s", path, exc)
            self.recovery["files_unreadable"] += 1
            return set()
        pairs = zip(
            table.column("run_id").to_pylist(), table.column("seq").to_pylist(), strict=True
        )
        return {(run, seq) for run, seq in pairs if seq in wanted.get(run, ())}

    def _remove_leftovers(self, folder: Path, names: list[str]) -> None:
        """Remove ``.<stem>-<pid>-<hex>.parquet.tmp`` files of processes that are gone (or of
        an earlier process with this one's pid), untouched for :data:`LEFTOVER_AFTER_S`."""
        now = time.time()
        for name in names:
            match = _TEMPORARY.fullmatch(name)
            if match is None:
                continue
            pid = int(match.group(1))
            path = folder / name
            try:
                if now - path.stat().st_mtime < LEFTOVER_AFTER_S:
                    continue  # being written: writing keeps it fresh
                if pid != os.getpid() and _alive(pid):
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            self.recovery["temporary_removed"] += 1

    def _write(self, group: Group) -> None:
        """Write one group's rows to a new file (temporary name, then an atomic link)."""
        tables = self._gathered.pop(group)
        self._total -= self._rows.pop(group)
        run_id, kind, day = group
        folder = self.directory / f"kind={kind}" / f"date={day_name(day)}"
        folder.mkdir(parents=True, exist_ok=True)
        table = parquet_table(pa.concat_tables(tables))
        stem = file_stem(run_id)
        temporary = folder / f".{stem}-{os.getpid()}-{secrets.token_hex(4)}.parquet.tmp"
        try:
            pq.write_table(table, temporary, compression=self.compression)
            self.files_written.append(self._publish(temporary, folder, stem))
        finally:
            temporary.unlink(missing_ok=True)

    def _publish(self, temporary: Path, folder: Path, stem: str) -> Path:
        """Give ``temporary`` the first free name ``<stem>-<n>.parquet`` in ``folder``."""
        while True:
            target = folder / f"{stem}-{self._next}.parquet"
            self._next += 1
            try:
                os.link(temporary, target)  # atomic, and never replaces an existing file
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links
                if target.exists():
                    continue
                os.replace(temporary, target)
            return target


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (assumed so where that cannot be asked)."""
    if os.name == "nt":  # os.kill would end the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True
