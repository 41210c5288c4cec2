"""DuckDB exporter: every record of every run in one embedded database file.

Two tables: ``records`` (the unified ``semconv.TABLE_COLUMNS`` schema, primary key
``(run_id, seq)``) and ``runs`` (one row per run: the fields of ``Run.to_dict()``, the start as a
timestamp and the OpenTelemetry-style ``resource`` as JSON). Both are created if missing;
columns a newer tradetrace added are added to an older file.

Batches become Arrow tables (:mod:`~tradetrace.exporters.arrow_table`) and go in with one
``INSERT ... SELECT`` per group of batches, never row by row. A statement over a hundred
columns costs DuckDB milliseconds whatever its size, and one that brings whole row groups
(``insert_rows``, 122 880 rows) is written compressed straight to the file instead of through
the write-ahead log, several times faster. So the full batches of a burst are gathered and
inserted a row group at a time; a short batch (the end of a burst, or a quiet trading loop) is
inserted at once with what was gathered, and so is anything gathered for ``max_delay`` seconds.
``force_flush`` and ``shutdown`` insert the rest and checkpoint, so the file is complete when
closed.

Two settings of the database (shared by every connection to the file in this process) keep
DuckDB a good guest in a trading process: ``memory_limit`` (128 MB; DuckDB would take up to
80 % of the machine) and ``threads`` (1: faster for these inserts than several, and the other
cores stay with the trading loop). Pass None to leave DuckDB's own setting.

Re-delivering a batch inserts nothing twice: a plain ``INSERT`` that meets an existing
``(run_id, seq)`` is rolled back by DuckDB and redone as ``INSERT OR IGNORE`` (the slower path is
paid only then, and counts the rows it ignored in ``recovery["skipped"]``). So records replayed
after a crash need no ``recover`` here.

DuckDB lets one process write a database file. The file is opened when the exporter is built (on
the caller's thread, at ``configure`` time), so a second process gets a clear
:class:`DatabaseLockedError` there. The connection is then used only by the exporter's thread,
through a cursor of its own. A forked child never touches the parent's connection (see
:meth:`DuckDBExporter.after_fork`).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import logging
import os
import re
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tradetrace import semconv as sc
from tradetrace.exporters.arrow_table import records_table
from tradetrace.exporters.base import BaseExporter, ExportResult
from tradetrace.exporters.rows import to_json
from tradetrace.pipeline.run import Run
from tradetrace.records import Record

logger = logging.getLogger("tradetrace")

RECORDS_TABLE = "records"
RUNS_TABLE = "runs"
#: One DuckDB row group: inserting this many rows at a time costs about what one insert costs.
INSERT_ROWS = 122_880
#: DuckDB's memory limit for the database (its default is 80 % of the machine's memory, too much
#: to take from a trading process); None leaves DuckDB's setting alone.
MEMORY_LIMIT = "128MB"
#: DuckDB's threads for the database: one is faster for these inserts than several (measured on
#: two cores, ``benchmarks/exporters.py``) and leaves the other cores to the trading loop.
THREADS = 1
#: The Recorder's default batch size: a batch shorter than this (or than the longest seen) is
#: the end of a burst.
FULL_BATCH = 512
_BATCH_VIEW = "tradetrace_batch"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_WAY_OUT = (
    "one DuckDB database per writing process: give each process its own directory/file, "
    "or use exporters=('parquet',) for a directory many processes can write"
)


_IGNORE_SLICE = 8192  # rows per INSERT OR IGNORE (see DuckDBExporter._insert_or_ignore)


class DatabaseLockedError(RuntimeError):
    """The DuckDB file is open for writing in another process (or in the parent of a fork)."""


def quote(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def _run_columns() -> tuple[tuple[str, str], ...]:
    """``runs``: the fields of :class:`Run` (typed from their annotations), the start time and
    the resource attributes."""
    columns = []
    for field in dataclasses.fields(Run):
        annotation = str(field.type)
        if annotation.startswith("int"):
            sql = "BIGINT"
        elif annotation.startswith("dict"):
            sql = "JSON"
        else:
            sql = "VARCHAR"
        columns.append((field.name, sql))
    return (*columns, ("started_time", "TIMESTAMPTZ"), ("resource", "JSON"))


RUN_COLUMNS: tuple[tuple[str, str], ...] = _run_columns()


def _create_sql(table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]) -> str:
    body = ",\n  ".join(
        f"{quote(name)} {sql}{' NOT NULL' if name in key else ''}" for name, sql in columns
    )
    primary = ", ".join(quote(name) for name in key)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {body},\n  PRIMARY KEY ({primary})\n)"


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """Open ``path`` for writing; :class:`DatabaseLockedError` if another process has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" not in text.lower():
            raise
        holder = re.search(r"PID (\d+)", text)
        who = f"another process (PID {holder.group(1)})" if holder else "another process"
        raise DatabaseLockedError(
            f"tradetrace cannot write {path}: {who} has this DuckDB file open for writing; "
            f"{_WAY_OUT}"
        ) from None


def prepare(connection: duckdb.DuckDBPyConnection) -> None:
    """Create ``records`` and ``runs`` if missing; add columns an older file lacks."""
    for table, columns, key in (
        (RECORDS_TABLE, sc.TABLE_COLUMNS, ("run_id", "seq")),
        (RUNS_TABLE, RUN_COLUMNS, ("run_id",)),
    ):
        connection.execute(_create_sql(table, columns, key))
        existing = {
            row[0]
            for row in connection.execute(
                "SELECT column_name FROM duckdb_columns() "
                "WHERE table_name = ? AND schema_name = current_schema()",
                [table],
            ).fetchall()
        }
        for name, sql in columns:
            if name not in existing:
                connection.execute(f"ALTER TABLE {table} ADD COLUMN {quote(name)} {sql}")


_NAMES = ", ".join(quote(name) for name, _ in sc.TABLE_COLUMNS)
_INSERT = f"INSERT INTO {RECORDS_TABLE} ({_NAMES}) SELECT {_NAMES} FROM {_BATCH_VIEW}"
_INSERT_OR_IGNORE = _INSERT.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1)
_RUN_NAMES = ", ".join(quote(name) for name, _ in RUN_COLUMNS)
_RUN_VALUES = ", ".join("?::JSON" if sql == "JSON" else "?" for _, sql in RUN_COLUMNS)
_INSERT_RUN = f"INSERT OR IGNORE INTO {RUNS_TABLE} ({_RUN_NAMES}) VALUES ({_RUN_VALUES})"

_ABANDONED: list[Any] = []


def _abandon(*objects: Any) -> None:
    """Keep objects alive until the process ends, without ever closing them.

    A DuckDB connection inherited through ``fork`` must not be closed or garbage-collected in
    the child: DuckDB's threads and locks did not survive the fork (closing crashes the child)
    and its buffers belong to the parent's file.
    """
    for item in objects:
        if item is None:
            continue
        _ABANDONED.append(item)
        # A reference even module teardown at exit will not drop (not CPython: the list is
        # the best we can do).
        with contextlib.suppress(AttributeError, OSError):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(item))


class DuckDBExporter(BaseExporter):
    """Writes records to ``{directory}/tradetrace.duckdb`` (``path`` when built directly)."""

    name = "duckdb"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        insert_rows: int = INSERT_ROWS,
        max_delay: float = 1.0,
        memory_limit: str | None = MEMORY_LIMIT,
        threads: int | None = THREADS,
    ) -> None:
        if insert_rows < 1 or max_delay < 0:
            raise ValueError("insert_rows must be at least 1 and max_delay at least 0")
        self.path = Path(path)
        self.insert_rows = insert_rows
        self.max_delay = max_delay
        self._database: duckdb.DuckDBPyConnection | None = connect(self.path)
        if memory_limit is not None:
            self._database.execute("SET memory_limit = ?", [memory_limit])
        if threads is not None:
            self._database.execute("SET threads = ?", [threads])
        prepare(self._database)
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._owner_pid = os.getpid()
        self._forked_from: int | None = None
        self._closed = False
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._pending_since = 0.0
        self._longest = FULL_BATCH
        #: Rows already in the database (re-delivered, or replayed after a crash), ignored.
        self.recovery: dict[str, int] = {"skipped": 0}

    # --- the exporter protocol -----------------------------------------------------------

    def open(self, run: Run) -> None:
        resource = run.to_dict()
        values = []
        for name, sql in RUN_COLUMNS:
            if name == "started_time":
                value: Any = _EPOCH + timedelta(microseconds=run.started_ns // 1000)
            elif name == "resource":
                value = to_json(run.resource_attributes()).decode("utf-8")
            else:
                value = resource.get(name)
                if sql == "JSON":
                    value = to_json(value).decode("utf-8")
            values.append(value)
        self._connection().execute(_INSERT_RUN, values)

    def export(self, batch: Sequence[Record]) -> ExportResult:
        if not batch:
            return ExportResult.SUCCESS
        if self._cursor is None:
            self._connection()  # fails at once in a forked child or after shutdown
        table = records_table(batch)
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(table)
        self._pending_rows += table.num_rows
        n = len(batch)
        burst_ended = n < self._longest
        self._longest = max(self._longest, n)
        if burst_ended or time.monotonic() - self._pending_since >= self.max_delay:
            self._insert()
        elif self._pending_rows >= self.insert_rows:
            self._insert(self._pending_rows // self.insert_rows * self.insert_rows)
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float) -> bool:
        if self._database is None and not self._pending:
            return self._forked_from is None
        self._insert()
        self._checkpoint()
        return True

    def shutdown(self, timeout: float) -> None:
        if self._closed:
            return
        try:
            if self._database is not None:
                self._insert()
                self._checkpoint()
        finally:
            self._closed = True
            self._pending, self._pending_rows = [], 0
            for connection in (self._cursor, self._database):
                if connection is not None:
                    connection.close()
            self._cursor = self._database = None

    def after_fork(self) -> None:
        """In a forked child: drop the parent's connection without closing it (see
        :func:`_abandon`) and the rows the parent has yet to insert. The child does not write
        this file: DuckDB would hand it the parent's database again; its batches fail and are
        counted, with a :class:`DatabaseLockedError` in the log saying what to do instead."""
        _abandon(self._cursor, self._database)
        self._cursor = self._database = None
        self._pending, self._pending_rows = [], 0
        self._forked_from = self._owner_pid
        self._owner_pid = os.getpid()

    # --- internals -----------------------------------------------------------------------

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """The exporter thread's own cursor on the database opened at construction."""
        if self._cursor is not None:
            return self._cursor
        if self._forked_from is not None:
            raise DatabaseLockedError(
                f"tradetrace cannot write {self.path} from this process (PID {os.getpid()}): "
                f"it was forked from PID {self._forked_from}, which has the file open for "
                f"writing; {_WAY_OUT} (in the child, build a Recorder with its own directory)"
            )
        if self._database is None:
            raise RuntimeError(f"DuckDB exporter for {self.path} is shut down")
        self._cursor = self._database.cursor()
        return self._cursor

    def _insert(self, rows: int | None = None) -> None:
        """Insert the first ``rows`` rows gathered (all by default) in one statement."""
        if not self._pending:
            return
        tables = self._pending
        data = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        if rows is not None and rows < data.num_rows:
            rest = data.slice(rows)
            data = data.slice(0, rows)
            self._pending, self._pending_rows = [rest], rest.num_rows
            self._pending_since = time.monotonic()
        else:
            self._pending, self._pending_rows = [], 0
        rows = data.num_rows
        connection = self._connection()
        try:
            connection.register(_BATCH_VIEW, data)
            try:
                connection.execute(_INSERT)
            except duckdb.ConstraintException:  # rolled back: some rows are there already
                connection.unregister(_BATCH_VIEW)
                self._insert_or_ignore(connection, data)
        except duckdb.Error as exc:
            raise RuntimeError(f"{rows} records were not written to {self.path}: {exc}") from exc
        finally:
            connection.unregister(_BATCH_VIEW)

    def _insert_or_ignore(self, connection: duckdb.DuckDBPyConnection, data: pa.Table) -> None:
        """Insert the rows not there yet, in slices: checking keys needs far more memory than
        a plain insert, and ``memory_limit`` is small on purpose."""
        for offset in range(0, data.num_rows, _IGNORE_SLICE):
            part = data.slice(offset, _IGNORE_SLICE)
            connection.register(_BATCH_VIEW, part)
            try:
                inserted = connection.execute(_INSERT_OR_IGNORE).fetchone()
            finally:
                connection.unregister(_BATCH_VIEW)
            if inserted is not None:
                self.recovery["skipped"] += part.num_rows - inserted[0]

    def recover(self, replayed: Sequence[Record]) -> Sequence[Record]:
        """The replayed records whose ``(run_id, seq)`` the database does not hold yet (the
        primary key would ignore them anyway; asking first keeps the insert on its fast
        path)."""
        wanted: dict[str, set[int]] = {}
        for record in replayed:
            wanted.setdefault(record.run_id, set()).add(record.seq)
        present: set[tuple[str, int]] = set()
        connection = self._connection()
        for run_id, seqs in wanted.items():
            rows = connection.execute(
                "SELECT seq FROM records WHERE run_id = ? AND seq BETWEEN ? AND ?",
                [run_id, min(seqs), max(seqs)],
            ).fetchall()
            present.update((run_id, seq) for (seq,) in rows if seq in seqs)
        self.recovery["skipped"] += len(present)
        return [r for r in replayed if (r.run_id, r.seq) not in present]

    def _checkpoint(self) -> None:
        try:
            self._connection().execute("CHECKPOINT")
        except duckdb.Error as exc:  # e.g. another connection's open transaction: data is safe
            logger.debug("tradetrace: CHECKPOINT of %s postponed: %s", self.path, exc)
