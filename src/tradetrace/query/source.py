"""A SOURCE opened for SQL: a DuckDB file or a directory of exports, as one ``records`` view.

A SOURCE is a DuckDB database written by the DuckDB exporter (opened read-only), an export
directory (``tradetrace.duckdb``, ``parquet/``, ``json/`` and/or ``csv/`` below it), one of
those sub-folders, or a single record file. When a directory holds several formats, one is read:
the DuckDB file, else Parquet, else JSON Lines, else CSV (``format=`` chooses another). The
connection is an in-memory DuckDB with the view ``records`` (exactly
:data:`tradetrace.semconv.TABLE_COLUMNS`), ``runs`` (the run resources, when they were written)
and the views of :mod:`tradetrace.query.views`. Its session time zone is UTC.

A DuckDB file is attached read-only; one that another process is writing is locked by DuckDB
(a clear :class:`SourceError` says so). One that this very process is writing (a Recorder with
the duckdb exporter, in a notebook say) is read through that process's own database: the views
are temporary objects of the connection, and queries see what was flushed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tradetrace import semconv as sc
from tradetrace.query import readers
from tradetrace.query.views import create_views

if TYPE_CHECKING:  # DuckDB is imported when a source is opened: `import tradetrace` stays light
    import duckdb

#: Formats a SOURCE can be read from, in the order a directory's formats are preferred.
FORMATS: tuple[str, ...] = ("duckdb", "parquet", "jsonl", "csv")
#: The file the DuckDB exporter writes in its directory.
DUCKDB_FILE = "tradetrace.duckdb"
FORMAT_NAMES = {"duckdb": "DuckDB", "parquet": "Parquet", "jsonl": "JSON Lines", "csv": "CSV"}
_FOLDER = {"parquet": "parquet", "jsonl": "json", "csv": "csv"}
_SUFFIX = {"jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet"}
_STEMS = "|".join(sc.KIND_FILE_STEM.values())
_DUCKDB_MAGIC = b"DUCK"
_ATTACHED = "tradetrace_source"

SourceLike = str | os.PathLike[str]


class SourceError(ValueError):
    """A SOURCE that cannot be read: missing, not a tradetrace export, or locked."""


def _record_file(format_: str) -> re.Pattern[str]:
    suffix = re.escape(_SUFFIX[format_])
    return re.compile(rf".+_(?:{_STEMS})_\d{{8}}(?:_\d+)?{suffix}")


_RECORD_FILE = {format_: _record_file(format_) for format_ in ("jsonl", "csv")}
_RUNS_FILE = {format_: re.compile(rf".+_runs{re.escape(_SUFFIX[format_])}") for format_ in _FOLDER}


@dataclass(frozen=True)
class Location:
    """What will be read: the format, the file or folder, its record and run files."""

    format: str
    path: Path
    files: tuple[Path, ...] = ()
    run_files: tuple[Path, ...] = ()

    def describe(self) -> str:
        """``JSON Lines: 7 files in data/json``."""
        name = FORMAT_NAMES[self.format]
        if self.format == "duckdb":
            return f"{name}: {self.path}"
        count = len(self.files)
        return f"{name}: {count} file{'' if count == 1 else 's'} in {self.path}"


def _files_in(
    format_: str, folder: Path, nested: bool = True
) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(record files, run files) of ``format_`` directly in ``folder``. Parquet files may be in
    ``kind=.../date=...`` partitions below it, or anywhere below it when ``nested``."""
    if format_ == "parquet":
        if nested:
            found = folder.rglob("*.parquet")
        else:
            found = [*folder.glob("*.parquet"), *folder.glob("kind=*/**/*.parquet")]
        every = sorted(p for p in found if p.is_file())
        runs_pattern = _RUNS_FILE["parquet"]
        runs = tuple(p for p in every if runs_pattern.fullmatch(p.name))
        return tuple(p for p in every if p not in runs), runs
    pattern, runs_pattern = _RECORD_FILE[format_], _RUNS_FILE[format_]
    files = sorted(p for p in folder.iterdir() if p.is_file())
    return (
        tuple(p for p in files if pattern.fullmatch(p.name)),
        tuple(p for p in files if runs_pattern.fullmatch(p.name)),
    )


def _is_duckdb_file(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            head = file.read(12)
    except OSError:
        return False
    return head[8:12] == _DUCKDB_MAGIC


def candidates(directory: Path) -> dict[str, Location]:
    """Every format found in an export directory (or in one of its sub-folders)."""
    found: dict[str, Location] = {}
    database = directory / DUCKDB_FILE
    if database.is_file():
        found["duckdb"] = Location("duckdb", database)
    for format_, folder_name in _FOLDER.items():
        for folder in (directory / folder_name, directory):
            if not folder.is_dir():
                continue
            files, runs = _files_in(format_, folder, nested=folder != directory)
            if files or (runs and folder != directory):
                found[format_] = Location(format_, folder, files, runs)
                break
    return found


def locate(source: SourceLike, format: str | None = None) -> Location:
    """Decide what to read for ``source``; raise :class:`SourceError` with a one-line reason."""
    if format is not None and format not in FORMATS:
        raise SourceError(f"unknown format {format!r}: choose one of {', '.join(FORMATS)}")
    path = Path(source)
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory")
    if path.is_file():
        if _is_duckdb_file(path):
            found = "duckdb"
        else:
            found = next((f for f, s in _SUFFIX.items() if path.name.endswith(s)), "")
        if not found or (format is not None and format != found):
            raise SourceError(
                f"{path} is not a tradetrace export (expected a DuckDB database, or a "
                ".jsonl, .csv or .parquet records file)"
            )
        if found == "duckdb":
            return Location("duckdb", path)
        return Location(found, path.parent, (path,))
    found_formats = candidates(path)
    if format is not None:
        if format in found_formats:
            return found_formats[format]
        others = ", ".join(FORMAT_NAMES[f] for f in found_formats) or "nothing readable"
        raise SourceError(f"{path} has no {FORMAT_NAMES[format]} records (found: {others})")
    for format_ in FORMATS:
        if format_ in found_formats:
            return found_formats[format_]
    raise SourceError(
        f"{path} is not a tradetrace export: no {DUCKDB_FILE}, parquet/, json/ or csv/ "
        "records in it"
    )


@dataclass
class Source:
    """An open SOURCE: ``connection`` has the ``records`` view and the views over it."""

    connection: duckdb.DuckDBPyConnection
    location: Location

    @property
    def format(self) -> str:
        return self.location.format

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        """Run ``query`` on this source's connection."""
        return self.connection.sql(query)

    def describe(self) -> str:
        return self.location.describe()

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Source({self.describe()!r})"


def _columns(connection: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return list(connection.sql(f"SELECT * FROM {relation} LIMIT 0").columns)


def _duckdb_connection(path: Path) -> tuple[duckdb.DuckDBPyConnection, str, bool]:
    """(connection, database name, shared): ``path`` attached read-only to a new in-memory
    connection; or, when this very process has it open for writing (a Recorder with the duckdb
    exporter), a connection to that same database (``shared``: only temporary objects are
    created in it, and queries see what was flushed)."""
    import duckdb

    connection = duckdb.connect(":memory:")
    try:
        connection.execute(f"ATTACH {readers.literal(str(path))} AS {_ATTACHED} (READ_ONLY)")
        return connection, _ATTACHED, False
    except duckdb.Error as exc:
        connection.close()
        text = str(exc)
    first = text.splitlines()[0] if text else "unknown error"
    if "already attached" in text or "different configuration" in text:
        try:
            shared = duckdb.connect(str(path))
        except duckdb.Error as again:
            raise SourceError(f"{path} cannot be opened: {str(again).splitlines()[0]}") from None
        ((name,),) = shared.execute("SELECT current_database()").fetchall()
        return shared, name, True
    if "lock" in text.lower():
        holder = re.search(r"PID (\d+)", text)
        who = f"process {holder.group(1)}" if holder else "another process"
        raise SourceError(
            f"{path} is locked by {who}, which is writing to it: stop that writer or "
            "read its CSV, JSON Lines or Parquet exports instead"
        )
    raise SourceError(f"{path} cannot be opened as a DuckDB database: {first}")


def _duckdb_views(
    connection: duckdb.DuckDBPyConnection, path: Path, database: str
) -> tuple[str, str]:
    tables = {
        row[0]
        for row in connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
            "AND schema_name = 'main'",
            [database],
        ).fetchall()
    }
    if "records" not in tables:
        raise SourceError(f"{path} is a DuckDB database without a tradetrace records table")
    records_table = f"{database}.main.records"
    records = readers.table_records(records_table, _columns(connection, records_table))
    if "runs" in tables:
        runs_table = f"{database}.main.runs"
        return records, readers.runs_from(runs_table, _columns(connection, runs_table))
    return records, readers.empty_runs()


def _runs_view(connection: duckdb.DuckDBPyConnection, format_: str, files: Sequence[Path]) -> str:
    if not files:
        return readers.empty_runs()
    if format_ == "jsonl":
        return readers.jsonl_runs(files)
    if format_ == "csv":
        relation = readers.csv_options(files)
        return readers.runs_from(relation, _columns(connection, relation), "TRY_CAST")
    relation = f"read_parquet({readers.file_list(files)}, union_by_name = true)"
    return readers.runs_from(relation, _columns(connection, relation), "TRY_CAST")


def _run_files(location: Location) -> tuple[str, tuple[Path, ...]]:
    """Run files of the location, else of a sibling format in the same export directory."""
    if location.run_files:
        return location.format, location.run_files
    root = location.path.parent if location.path.name in _FOLDER.values() else location.path
    if root.is_dir():
        for format_, other in candidates(root).items():
            if other.run_files:
                return format_, other.run_files
    return location.format, ()


def _file_views(
    connection: duckdb.DuckDBPyConnection, location: Location, files: Sequence[Path]
) -> tuple[str, str]:
    format_ = location.format
    if not files:
        records = readers.empty_records()
    elif format_ == "jsonl":
        records = readers.jsonl_records(files)
    elif format_ == "csv":
        records = readers.csv_records(files, _columns(connection, readers.csv_options(files)))
    else:
        relation = (
            f"read_parquet({readers.file_list(files)}, hive_partitioning = true, "
            "union_by_name = true)"
        )
        records = readers.table_records(relation, _columns(connection, relation))
    runs_format, run_files = _run_files(location)
    return records, _runs_view(connection, runs_format, run_files)


def open_source(
    source: SourceLike,
    *,
    format: str | None = None,
    materialize: bool | None = None,
    files: Iterable[Path] | None = None,
) -> Source:
    """Open ``source`` (see the module docstring) into an in-memory DuckDB connection.

    ``materialize`` reads the files once into an in-memory table, so that every query after
    is quick: the default for CSV and JSON Lines, whose conversion to the table's types is
    costly to plan and run again per query. ``materialize=False`` reads them at each query
    instead (for exports larger than memory). Parquet and DuckDB are always read in place.
    ``files`` restricts a file source to those record files (``tail`` reads only new data).
    """
    import duckdb

    location = locate(source, format)
    shared = False
    if location.format == "duckdb":
        connection, database, shared = _duckdb_connection(location.path)
    else:
        connection, database = duckdb.connect(":memory:"), ""
    temp = "TEMP " if shared else ""
    try:
        connection.execute("SET TimeZone = 'UTC'")
        for macro in readers.MACROS:
            connection.execute(
                macro.replace("CREATE OR REPLACE MACRO", f"CREATE OR REPLACE {temp}MACRO")
            )
        if location.format == "duckdb":
            records, runs = _duckdb_views(connection, location.path, database)
        else:
            chosen = tuple(files) if files is not None else location.files
            records, runs = _file_views(connection, location, chosen)
        if materialize is None:
            materialize = location.format in ("csv", "jsonl")
        if materialize and location.format in ("csv", "jsonl"):
            connection.execute(f"CREATE TABLE tradetrace_records AS {records}")
            records = "SELECT * FROM tradetrace_records"
        connection.execute(f"CREATE {temp}VIEW records AS {records}")
        connection.execute(f"CREATE {temp}VIEW runs AS {runs}")
        create_views(connection, temporary=shared)
    except SourceError:
        connection.close()
        raise
    except duckdb.Error as exc:
        connection.close()
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(f"cannot read {location.describe()}: {first}") from None
    return Source(connection, location)
