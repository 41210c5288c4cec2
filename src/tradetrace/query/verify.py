"""``verify``: is every run's record complete? Gaps, duplicates, orphans, unknown events.

Within a run, seqs are 1, 2, 3, ... with no gap and no reuse, and a span or bundle takes its seq
when it begins but is written when it ends. So, per run:

* a **gap** is a missing seq range (with the records on either side, to find it in time);
* a missing seq with children written is an operation the **process ended inside** when
  everything written after it belongs to it (it was open when the process died); otherwise its
  children are **orphans** (their parent's record was lost);
* a **duplicate** is a (run, seq) written more than once (possible in CSV, JSON Lines and
  Parquet files, which do not enforce uniqueness);
* an **unknown event** is a lifecycle update naming a seq that is no event of its run.

The end of a run cannot be checked: records lost after the last one written leave no trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tradetrace.exporters.rows import IsoTime
from tradetrace.semconv import RecordKind

if TYPE_CHECKING:
    import duckdb

_SHOWN = 20  # items of one category printed per run; the rest are counted
_EVENT = RecordKind.EVENT.value
_VALID = "seq IS NOT NULL AND run_id IS NOT NULL"

_RUNS = f"""SELECT run_id, count(*), min(seq), max(seq) FROM records WHERE {_VALID}
GROUP BY run_id ORDER BY min(time_ns), run_id"""

_SEQS = f"""CREATE TEMP TABLE tt_seqs AS
SELECT DISTINCT ON (run_id, seq) run_id, seq, kind, name, time_ns FROM records WHERE {_VALID}"""

_GAPS = """WITH n AS (
  SELECT run_id, seq, lag(seq, 1, 0) OVER (PARTITION BY run_id ORDER BY seq) AS prev FROM tt_seqs
)
SELECT n.run_id, n.prev + 1, n.seq - 1, b.seq, b.kind, b.name, b.time_ns,
  n.seq, a.kind, a.name, a.time_ns
FROM n
LEFT JOIN tt_seqs AS b ON b.run_id = n.run_id AND b.seq = n.prev
JOIN tt_seqs AS a ON a.run_id = n.run_id AND a.seq = n.seq
WHERE n.seq > n.prev + 1
ORDER BY n.run_id, n.seq"""

_MISSING_PARENTS = """WITH RECURSIVE children AS (
  SELECT r.run_id, r.seq, r.kind, r.name, r.parent_seq FROM records AS r
  WHERE r.seq IS NOT NULL AND r.run_id IS NOT NULL AND r.parent_seq IS NOT NULL
    AND NOT EXISTS (
      SELECT 1 FROM tt_seqs AS s WHERE s.run_id = r.run_id AND s.seq = r.parent_seq)
), roots AS (
  SELECT DISTINCT run_id, parent_seq AS root FROM children
), inside(run_id, root, seq) AS (
  SELECT c.run_id, c.parent_seq, c.seq FROM children AS c
  UNION
  SELECT r.run_id, i.root, r.seq FROM records AS r
  JOIN inside AS i ON r.run_id = i.run_id AND r.parent_seq = i.seq
), verdict AS (
  SELECT roots.run_id, roots.root,
    (SELECT count(*) FROM tt_seqs AS s WHERE s.run_id = roots.run_id AND s.seq > roots.root)
      = (SELECT count(DISTINCT i.seq) FROM inside AS i
         WHERE i.run_id = roots.run_id AND i.root = roots.root AND i.seq > roots.root)
      AS ended_inside,
    (SELECT count(DISTINCT i.seq) FROM inside AS i
     WHERE i.run_id = roots.run_id AND i.root = roots.root) AS inside_count
  FROM roots
)
SELECT c.run_id, c.parent_seq, v.ended_inside, v.inside_count, c.seq, c.kind, c.name
FROM children AS c JOIN verdict AS v ON v.run_id = c.run_id AND v.root = c.parent_seq
ORDER BY c.run_id, c.parent_seq, c.seq"""

_DUPLICATES = f"""SELECT run_id, seq, count(*), list(DISTINCT kind ORDER BY kind),
  count(DISTINCT (kind, name, time_ns, observed_ns, status)) = 1
FROM records WHERE {_VALID}
GROUP BY run_id, seq HAVING count(*) > 1 ORDER BY run_id, seq"""

_UNKNOWN_UPDATES = f"""SELECT u.run_id, u.seq, u.updates_seq, u.status FROM records AS u
WHERE u.kind = '{_EVENT}' AND u.updates_seq IS NOT NULL
  AND u.seq IS NOT NULL AND u.run_id IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM records AS e
    WHERE e.run_id = u.run_id AND e.seq = u.updates_seq AND e.kind = '{_EVENT}'
      AND e.updates_seq IS NULL)
ORDER BY u.run_id, u.seq"""

_INVALID = f"SELECT count(*) FROM records WHERE NOT ({_VALID})"

_iso = IsoTime()


@dataclass(frozen=True)
class Neighbor:
    """A record next to a gap."""

    seq: int
    kind: str
    name: str
    time_ns: int | None

    def __str__(self) -> str:
        when = _iso(self.time_ns) if self.time_ns is not None else "unknown time"
        return f"#{self.seq} {self.kind} {self.name} at {when}"


@dataclass(frozen=True)
class Gap:
    """Seqs ``first`` .. ``last`` were never written."""

    first: int
    last: int
    before: Neighbor | None
    after: Neighbor

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        seqs = (
            f"seq {self.first}"
            if self.first == self.last
            else (f"seqs {self.first}..{self.last} ({self.count})")
        )
        where = f"after {self.before}, " if self.before else "at the start of the run, "
        return f"gap: {seqs} missing, {where}before {self.after}"


@dataclass(frozen=True)
class Unfinished:
    """An operation (span or bundle) whose seq was taken but never written, with records
    made inside it: the process ended inside this operation."""

    seq: int
    inside: int
    children: tuple[int, ...]

    def __str__(self) -> str:
        made = f"{self.inside} record{'s' if self.inside != 1 else ''} made inside it"
        return (
            f"process ended inside this operation: #{self.seq} began but was never written "
            f"({made}, children {_seq_list(self.children)})"
        )


@dataclass(frozen=True)
class Orphan:
    """A record whose parent was not written (and the run went on after the parent)."""

    seq: int
    kind: str
    name: str
    parent_seq: int

    def __str__(self) -> str:
        return (
            f"orphan: #{self.seq} {self.kind} {self.name} names parent #{self.parent_seq}, "
            "which was not written"
        )


@dataclass(frozen=True)
class Duplicate:
    """One (run, seq) written ``count`` times."""

    seq: int
    count: int
    kinds: tuple[str, ...]
    identical: bool

    def __str__(self) -> str:
        copies = "copies of one record" if self.identical else "different records"
        return (
            f"duplicate: #{self.seq} written {self.count} times ({', '.join(self.kinds)}; {copies})"
        )


@dataclass(frozen=True)
class UnknownUpdate:
    """A lifecycle update naming a seq that is no event of its run."""

    seq: int
    updates_seq: int
    status: str | None

    def __str__(self) -> str:
        return (
            f"unknown event: #{self.seq} updates event #{self.updates_seq} to {self.status!r}, "
            "but the run has no such event"
        )


@dataclass
class RunReport:
    """What verify found in one run."""

    run_id: str
    records: int
    first_seq: int
    last_seq: int
    gaps: list[Gap] = field(default_factory=list)
    unfinished: list[Unfinished] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    unknown_updates: list[UnknownUpdate] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return (
            len(self.gaps) + len(self.unfinished) + len(self.orphans) + len(self.duplicates)
            + len(self.unknown_updates)
        )  # fmt: skip

    @property
    def ok(self) -> bool:
        return self.problems == 0

    def lines(self) -> list[str]:
        """The report of this run, one line per finding (long lists cut after 20)."""
        head = f"run {self.run_id}: {self.records} records, seq {self.first_seq}..{self.last_seq}"
        lines = [head + (": OK" if self.ok else f": {self.problems} problem(s)")]
        for items in (self.gaps, self.unfinished, self.orphans, self.duplicates,
                      self.unknown_updates):  # fmt: skip
            lines.extend(f"  {item}" for item in items[:_SHOWN])
            if len(items) > _SHOWN:
                lines.append(f"  ... and {len(items) - _SHOWN} more like this")
        return lines


@dataclass
class VerifyReport:
    """The result of :func:`verify`: ``.ok``, ``.runs`` and a readable ``str()``."""

    source: str
    runs: list[RunReport] = field(default_factory=list)
    invalid_rows: int = 0

    @property
    def ok(self) -> bool:
        return self.invalid_rows == 0 and all(run.ok for run in self.runs)

    @property
    def records(self) -> int:
        return sum(run.records for run in self.runs)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        lines = [f"verify {self.source}"]
        for run in self.runs:
            lines.extend(run.lines())
        if self.invalid_rows:
            lines.append(f"{self.invalid_rows} record(s) without a run id or a valid seq")
        runs = f"{len(self.runs)} run{'s' if len(self.runs) != 1 else ''}"
        if self.ok:
            lines.append(
                f"OK: {runs}, {self.records} records; no gap, duplicate, orphan or unknown event"
            )
        else:
            bad = sum(1 for run in self.runs if not run.ok)
            total = sum(run.problems for run in self.runs) + (1 if self.invalid_rows else 0)
            lines.append(f"PROBLEMS: {total} in {bad} of {runs}")
        return "\n".join(lines)


def _seq_list(seqs: tuple[int, ...]) -> str:
    shown = ", ".join(f"#{s}" for s in seqs[:5])
    return shown + (f", ... ({len(seqs)} in all)" if len(seqs) > 5 else "")


def verify_connection(connection: duckdb.DuckDBPyConnection, source: str) -> VerifyReport:
    """Check every run of the ``records`` view of ``connection``."""
    report = VerifyReport(source)
    runs: dict[str, RunReport] = {}
    for run_id, count, first, last in connection.execute(_RUNS).fetchall():
        runs[run_id] = RunReport(run_id, count, first, last)
    report.runs = list(runs.values())
    ((report.invalid_rows,),) = connection.execute(_INVALID).fetchall()
    connection.execute("DROP TABLE IF EXISTS tt_seqs")
    connection.execute(_SEQS)
    for run_id, first, last, *around in connection.execute(_GAPS).fetchall():
        before = Neighbor(*around[:4]) if around[0] is not None else None
        runs[run_id].gaps.append(Gap(first, last, before, Neighbor(*around[4:])))
    unfinished: dict[tuple[str, int], list[int]] = {}
    inside_counts: dict[tuple[str, int], int] = {}
    for run_id, parent, ended_inside, inside, seq, kind, name in connection.execute(
        _MISSING_PARENTS
    ).fetchall():
        if ended_inside and inside:
            unfinished.setdefault((run_id, parent), []).append(seq)
            inside_counts[(run_id, parent)] = inside
        else:
            runs[run_id].orphans.append(Orphan(seq, kind, name, parent))
    for (run_id, parent), children in unfinished.items():
        runs[run_id].unfinished.append(
            Unfinished(parent, inside_counts[(run_id, parent)], tuple(children))
        )
    for run_id, seq, count, kinds, identical in connection.execute(_DUPLICATES).fetchall():
        runs[run_id].duplicates.append(Duplicate(seq, count, tuple(kinds), bool(identical)))
    for run_id, seq, target, status in connection.execute(_UNKNOWN_UPDATES).fetchall():
        runs[run_id].unknown_updates.append(UnknownUpdate(seq, target, status))
    connection.execute("DROP TABLE IF EXISTS tt_seqs")
    return report
