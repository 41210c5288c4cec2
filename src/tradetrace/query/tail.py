"""``tradetrace tail``: the last records of a SOURCE, then new records as they are written.

CSV and JSON Lines files are followed by byte offset: each poll reads only the complete lines
appended since the last one (a line still being written waits for the next poll) and passes them
through the same ``records`` view as every query. Parquet is followed by new files, and a DuckDB
database by the seqs not yet seen in each run (it can only be read while no writer holds it).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb

from tradetrace.query.readers import literal
from tradetrace.query.rebuild import RecordBuilder
from tradetrace.query.source import Location, SourceError, SourceLike, locate, open_source
from tradetrace.records import Record

_GIVE_UP = 5  # polls a file's new bytes may fail to parse before they are skipped
_LATEST = "ORDER BY time_ns DESC, run_id DESC, seq DESC"
_IN_ORDER = "ORDER BY time_ns, run_id, seq"


def _records(
    source_path: Path, format: str, files: Sequence[Path] | None, sql: str
) -> list[Record]:
    with open_source(source_path, format=format, files=files) as source:
        relation = source.sql(sql)
        build = RecordBuilder(relation.columns)
        return [build(row) for row in relation.fetchall()]


def _complete_length(path: Path, size: int) -> int:
    """The length of ``path``'s first ``size`` bytes up to and including the last newline."""
    with open(path, "rb") as file:
        end = size
        while end > 0:
            start = max(0, end - 65536)
            file.seek(start)
            block = file.read(end - start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                return start + cut + 1
            end = start
    return 0


class Tail:
    """Follows one SOURCE; ``last(n)`` first, then ``poll()`` as often as wanted."""

    def __init__(self, source: SourceLike, format: str | None = None) -> None:
        self._path = Path(source)
        self._location: Location = locate(source, format)
        self.format = self._location.format
        self._offsets: dict[Path, int] = {}
        self._failures: dict[Path, int] = {}
        self._parquet_seen: set[Path] = set()
        self._floors: dict[str, int] = {}
        self._above: dict[str, set[int]] = {}
        self._shown: set[tuple[str, int]] = set()
        #: Why the last poll read nothing although it tried (a locked database), or None.
        self.waiting: str | None = None

    def describe(self) -> str:
        return self._location.describe()

    # --- the start -------------------------------------------------------------------------

    def last(self, count: int) -> list[Record]:
        """The last ``count`` records by time (then run and seq), oldest first; what is
        written after this call is what :meth:`poll` returns."""
        self._mark()
        if count <= 0:
            return []
        records = _records(
            self._path, self.format, None, f"SELECT * FROM records {_LATEST} LIMIT {int(count)}"
        )
        records.reverse()
        self._shown = {(r.run_id, r.seq) for r in records}
        return records

    def _mark(self) -> None:
        location = locate(self._path, self.format)
        if self.format in ("csv", "jsonl"):
            for file in location.files:
                self._offsets[file] = _complete_length(file, file.stat().st_size)
        elif self.format == "parquet":
            self._parquet_seen = set(location.files)
        else:
            self._mark_database()

    def _mark_database(self) -> None:
        sql = """WITH s AS (SELECT DISTINCT run_id, seq FROM records WHERE seq IS NOT NULL),
        n AS (SELECT run_id, seq, lag(seq, 1, 0) OVER (PARTITION BY run_id ORDER BY seq) AS p
              FROM s)
        SELECT run_id, coalesce(min(p) FILTER (WHERE seq > p + 1), max(seq)) FROM n
        GROUP BY run_id"""
        with open_source(self._path, format="duckdb") as source:
            self._floors = dict(source.sql(sql).fetchall())
            for run_id, floor in self._floors.items():
                seqs = source.connection.execute(
                    "SELECT seq FROM records WHERE run_id = ? AND seq > ?", [run_id, floor]
                ).fetchall()
                self._above[run_id] = {seq for (seq,) in seqs}

    # --- following -------------------------------------------------------------------------

    def poll(self) -> list[Record]:
        """The records written since the last call, in time order."""
        self.waiting = None
        try:
            if self.format in ("csv", "jsonl"):
                records = self._poll_files()
            elif self.format == "parquet":
                records = self._poll_parquet()
            else:
                records = self._poll_database()
        except SourceError as exc:
            self.waiting = str(exc)
            return []
        if self._shown:
            records = [r for r in records if (r.run_id, r.seq) not in self._shown]
        return records

    def _poll_files(self) -> list[Record]:
        location = locate(self._path, self.format)
        chunks: list[tuple[Path, int, bytes]] = []
        for file in location.files:
            size = file.stat().st_size
            start = self._offsets.get(file, 0)
            if size < start:  # replaced or truncated: read it again
                start = 0
            if size == start:
                continue
            with open(file, "rb") as handle:
                handle.seek(start)
                data = handle.read(size - start)
            cut = data.rfind(b"\n")
            if cut < 0:
                continue
            data = data[: cut + 1]
            if self.format == "csv" and start > 0:
                with open(file, "rb") as handle:
                    data = handle.readline() + data
            chunks.append((file, start + cut + 1, data))
        if not chunks:
            return []
        with tempfile.TemporaryDirectory(prefix="tradetrace-tail-") as scratch:
            copies = []
            for file, _, data in chunks:
                copy = Path(scratch) / file.name
                copy.write_bytes(data)
                copies.append(copy)
            try:
                records = _records(
                    copies[0], self.format, copies, f"SELECT * FROM records {_IN_ORDER}"
                )
            except (SourceError, duckdb.Error):
                if not self._failed(chunks):
                    return []
                records = []
        for file, end, _ in chunks:
            self._offsets[file] = end
            self._failures.pop(file, None)
        return records

    def _failed(self, chunks: Sequence[tuple[Path, int, bytes]]) -> bool:
        """Count a failed read; True when it failed often enough to skip those bytes."""
        worst = 0
        for file, _, _ in chunks:
            self._failures[file] = self._failures.get(file, 0) + 1
            worst = max(worst, self._failures[file])
        return worst >= _GIVE_UP

    def _poll_parquet(self) -> list[Record]:
        location = locate(self._path, self.format)
        new = [file for file in location.files if file not in self._parquet_seen]
        if not new:
            return []
        try:
            records = _records(new[0], "parquet", new, f"SELECT * FROM records {_IN_ORDER}")
        except (SourceError, duckdb.Error):  # a file still being written: next time
            return []
        self._parquet_seen.update(new)
        return records

    def _poll_database(self) -> list[Record]:
        floors = ", ".join(f"({literal(run)}, {floor})" for run, floor in self._floors.items())
        known = (
            f"(VALUES {floors}) AS f(run_id, floor)"
            if floors
            else ("(SELECT NULL::VARCHAR AS run_id, 0 AS floor WHERE false) AS f")
        )
        sql = (
            f"SELECT r.* FROM records AS r LEFT JOIN {known} ON f.run_id = r.run_id "
            f"WHERE r.seq > coalesce(f.floor, 0) ORDER BY r.time_ns, r.run_id, r.seq"
        )
        records = []
        for record in _records(self._path, "duckdb", None, sql):
            above = self._above.setdefault(record.run_id, set())
            if record.seq in above:
                continue
            above.add(record.seq)
            records.append(record)
        for run_id, above in self._above.items():
            floor = self._floors.get(run_id, 0)
            while floor + 1 in above:
                floor += 1
                above.discard(floor)
            self._floors[run_id] = floor
        return records
