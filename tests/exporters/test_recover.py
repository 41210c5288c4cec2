"""Crash recovery: ``recover(replayed)`` of a restarted exporter, against real files.

A ``kill -9`` can leave the batch being exported partly written: some of its rows in the files,
the last one possibly cut anywhere (in a multibyte character, in a quoted cell with a line
break). Each test writes files with the real exporters, damages them as such a crash would, then
does what a restarted process does: a NEW exporter's ``recover`` of the replayed records,
``export`` of what it returns, ``shutdown``; and reads the files back. Most compare them byte
for byte with the files a clean run writes: every record once, in order, every row whole.
Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest

import tradetrace as tt
from tradetrace import semconv as sc
from tradetrace.exporters.base import BaseExporter
from tradetrace.exporters.csv import CsvExporter, csv_row_function
from tradetrace.exporters.daily_files import MAX_TORN_ROW_ENDS
from tradetrace.exporters.duckdb import DuckDBExporter
from tradetrace.exporters.jsonl import JsonLinesExporter
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.exporters.parquet import LEFTOVER_AFTER_S, ParquetExporter
from tradetrace.exporters.rows import IsoTime
from tradetrace.pipeline.clock import to_ns
from tradetrace.pipeline.run import Run
from tradetrace.records import Record

T0 = to_ns("2024-05-12T12:00:00Z")
FILLS = "svc_fills_20240512"
NOTES = {
    5: "naïve €uro ✓",  # multibyte characters
    6: 'line one\nline two, "quoted"',  # a quoted CSV cell with a line break
    7: "crlf\r\ninside",  # a quoted CSV cell holding a row end
}


def record(seq: int, run: str = "run-a", kind: str = "fill", notes: str | None = None) -> Record:
    attributes: dict[str, Any] = {sc.SYMBOL: "BTC-USDT", sc.FILL_PRICE: Decimal(f"{seq}.5")}
    if notes is not None:
        attributes[sc.NOTES] = notes
    duration = 1_000 if kind == "span" else None
    return Record(seq, run, kind, f"{kind}-{seq}", T0 + seq, None, duration, None, None, None,
                  None, None, None, None, attributes)  # fmt: skip


def fills(*seqs: int, run: str = "run-a") -> list[Record]:
    return [record(seq, run, notes=NOTES.get(seq)) for seq in seqs]


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    build: Callable[[Path], CsvExporter | JsonLinesExporter]

    def keys(self, path: Path) -> list[tuple[str, int]]:
        """``(run_id, seq)`` of every row, checking that every row is whole."""
        if self.suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as file:
                header, *rows = list(csv.reader(file, strict=True))
            assert all(len(row) == len(header) for row in rows)
            run_at, seq_at = header.index("run_id"), header.index("seq")
            return [(row[run_at], int(row[seq_at])) for row in rows]
        lines = path.read_bytes().split(b"\n")
        assert lines.pop() == b""  # ends with a newline
        return [(item["run_id"], item["seq"]) for item in map(orjson.loads, lines)]


CSV = Format("csv", ".csv", lambda d: CsvExporter(d, service_name="svc"))
JSONL = Format("jsonl", ".jsonl", lambda d: JsonLinesExporter(d, service_name="svc"))


def write(fmt: Format, directory: Path, batches: Sequence[Sequence[Record]]) -> list[int]:
    """Export ``batches`` with one exporter; the size of the files after each batch."""
    exporter = fmt.build(directory)
    sizes = []
    for batch in batches:
        exporter.export(batch)
        sizes.append(sum(map(len, contents(directory).values())))
    exporter.shutdown(1)
    return sizes


def row_ends(fmt: Format, directory: Path, records: Sequence[Record]) -> list[int]:
    """Where each row of ``records`` (all in one file, in file order) ends: item ``k`` is the
    size of the file holding the first ``k`` (item 0: the CSV header)."""
    header = b""
    if fmt is CSV:
        header = ",".join(sc.KIND_COLUMNS[sc.RecordKind(records[0].kind)]).encode() + b"\r\n"
    exporter = fmt.build(directory)
    ends = [len(header)]
    for r in records:
        exporter.export([r])
        ends.append(next(directory.iterdir()).stat().st_size)
    exporter.shutdown(1)
    return ends


def clean(fmt: Format, tmp_path: Path, records: Sequence[Record]) -> dict[str, bytes]:
    """The files a run without a crash writes for ``records``."""
    directory = tmp_path / f"clean-{fmt.name}-{len(list(tmp_path.iterdir()))}"
    write(fmt, directory, [records])
    return contents(directory)


def contents(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if "_runs" not in p.name}


def restart(
    fmt: Format, directory: Path, replayed: Sequence[Record]
) -> tuple[list[Record], dict[str, int]]:
    """What a restarted process does: recover, export what is left, shut down."""
    exporter = fmt.build(directory)
    kept = list(exporter.recover(replayed))
    exporter.export(kept)
    exporter.shutdown(1)
    return kept, exporter.recovery


def cut(path: Path, size: int) -> None:
    with open(path, "r+b") as file:
        file.truncate(size)


# --- the hook's default ----------------------------------------------------------------------


def test_base_exporter_keeps_every_replayed_record() -> None:
    class Plain(BaseExporter):
        def export(self, batch: Sequence[Record]) -> Any:
            raise AssertionError

    replayed = fills(1, 2, 3)
    assert Plain().recover(replayed) is replayed


# --- CSV and JSON Lines: a batch cut short -----------------------------------------------------

BATCHES = (fills(1, 2, 3), fills(4, 5, 6, 7))  # 1-3 acknowledged, 4-7 exported at the crash
REPLAYED = [*BATCHES[1], *fills(8, 9)]  # from the checkpoint on: 4-7, then 8-9 never exported


@dataclass(frozen=True)
class Crash:
    """Where the fills file ends after the crash: the end of row ``after`` (0: of the header),
    plus the bytes of the next row up to ``marker`` (and ``extra`` more bytes)."""

    name: str
    after: int
    marker: bytes | None = None
    extra: int = 0
    first_kept: int = 0  # the first replayed seq still to write

    def size(self, ends: dict[int, int], data: bytes) -> int:
        if self.marker is None:
            return ends[self.after] + self.extra
        return data.index(self.marker, ends[self.after]) + len(self.marker) + self.extra


CRASHES = [
    Crash("nothing_of_the_batch", after=3, first_kept=4),
    Crash("whole_batch", after=7, first_kept=8),
    Crash("at_a_row_boundary", after=5, first_kept=6),
    Crash("middle_of_a_row", after=5, marker=b"fill", extra=-7, first_kept=6),
    Crash("middle_of_a_multibyte_character", after=4, marker="€".encode()[:1], first_kept=5),
]
CSV_CRASHES = [
    Crash("in_a_quoted_cell_after_its_line_break", after=5, marker=b"line one\n", first_kept=6),
    Crash("in_a_quoted_cell_after_its_crlf", after=6, marker=b"crlf\r\n", first_kept=7),
]
JSONL_CRASHES = [Crash("whole_line_without_its_newline", after=5, extra=-1, first_kept=6)]
CASES = [
    *((CSV, c) for c in CRASHES + CSV_CRASHES),
    *((JSONL, c) for c in CRASHES + JSONL_CRASHES),
]


@pytest.mark.parametrize(("fmt", "crash"), CASES, ids=[f"{f.name}-{c.name}" for f, c in CASES])
def test_batch_cut_short(tmp_path: Path, fmt: Format, crash: Crash) -> None:
    directory = tmp_path / "work"
    path = directory / f"{FILLS}{fmt.suffix}"
    ends = row_ends(fmt, tmp_path / "rows", fills(*range(1, 10)))
    write(fmt, directory, BATCHES)
    size = crash.size(ends, path.read_bytes())
    assert ends[crash.first_kept - 1] - 1 <= size <= ends[crash.first_kept]
    cut(path, size)

    kept, recovery = restart(fmt, directory, REPLAYED)

    assert [r.seq for r in kept] == list(range(crash.first_kept, 10))
    torn = size - ends[crash.first_kept - 1]
    whole_line = crash.name == "whole_line_without_its_newline"  # only its newline is added
    assert recovery == {
        "skipped": crash.first_kept - 4,
        "repaired_bytes": 1 if whole_line else torn,
        "files_scanned": 1,
        "files_repaired": 1 if whole_line or torn > 0 else 0,
        "files_sealed": 0,
    }
    assert fmt.keys(path) == [("run-a", seq) for seq in range(1, 10)]
    assert contents(directory) == clean(fmt, tmp_path, fills(*range(1, 10)))
    print(f"\n{fmt.name} {crash.name}: {recovery}")


@pytest.mark.parametrize("fmt", [CSV, JSONL], ids=["csv", "jsonl"])
def test_nothing_written_yet_keeps_all(tmp_path: Path, fmt: Format) -> None:
    kept, recovery = restart(fmt, tmp_path / "work", REPLAYED)
    assert kept == REPLAYED
    assert recovery["skipped"] == recovery["files_scanned"] == recovery["repaired_bytes"] == 0
    assert contents(tmp_path / "work") == clean(fmt, tmp_path, REPLAYED)


@pytest.mark.parametrize("fmt", [CSV, JSONL], ids=["csv", "jsonl"])
def test_torn_first_row_is_cut_to_an_empty_file(tmp_path: Path, fmt: Format) -> None:
    """Killed in the first write: a CSV file holding half its header, a JSONL half a line."""
    path = tmp_path / f"{FILLS}{fmt.suffix}"
    write(fmt, tmp_path, [BATCHES[0]])
    cut(path, 40)
    kept, recovery = restart(fmt, tmp_path, BATCHES[0])
    assert kept == BATCHES[0]
    assert recovery["repaired_bytes"] == 40 and recovery["skipped"] == 0
    assert fmt.keys(path) == [("run-a", 1), ("run-a", 2), ("run-a", 3)]


@pytest.mark.parametrize("fmt", [CSV, JSONL], ids=["csv", "jsonl"])
def test_two_runs_interleaved_with_the_same_seqs(tmp_path: Path, fmt: Format) -> None:
    """Dedupe is by (run_id, seq): b-6 is not written just because a-6 is."""
    a, b = fills(4, 5, 6, run="run-a"), fills(4, 5, 6, run="run-b")
    batch = [a[0], b[0], a[1], b[1], a[2], b[2]]
    ends = row_ends(fmt, tmp_path / "rows", batch)
    work = tmp_path / "work"
    write(fmt, work, [batch])
    path = work / f"{FILLS}{fmt.suffix}"
    cut(path, ends[5] + 30)  # a-6 whole, b-6 cut short

    kept, recovery = restart(fmt, work, batch)

    assert kept == [b[2]]
    assert recovery["skipped"] == 5 and recovery["repaired_bytes"] == 30
    assert fmt.keys(path) == [(r.run_id, r.seq) for r in batch]
    assert contents(work) == clean(fmt, tmp_path, batch)


@pytest.mark.parametrize("fmt", [CSV, JSONL], ids=["csv", "jsonl"])
def test_span_written_after_its_children(tmp_path: Path, fmt: Format) -> None:
    """A span takes its seq when it starts and is written when it ends: file order is 5, 6, 4,
    3; "every seq up to the largest found" would drop 3 and 4."""
    spans = {seq: record(seq, kind="span") for seq in range(1, 8)}
    first, crashed = [spans[2], spans[1]], [spans[5], spans[6], spans[4], spans[3]]
    replayed = [*crashed, spans[7]]
    ends = row_ends(fmt, tmp_path / "rows", [*first, *crashed])
    work = tmp_path / "work"
    path = work / f"svc_spans_20240512{fmt.suffix}"
    write(fmt, work, [first, crashed])
    torn = (ends[6] - ends[5]) // 2
    cut(path, ends[5] + torn)  # 5, 6 and 4 written, 3 cut short

    kept, recovery = restart(fmt, work, replayed)

    assert [r.seq for r in kept] == [3, 7]
    assert recovery["skipped"] == 3 and recovery["repaired_bytes"] == torn
    assert [seq for _, seq in fmt.keys(path)] == [2, 1, 5, 6, 4, 3, 7]
    assert contents(work) == clean(fmt, tmp_path, [*first, *replayed])


def test_csv_sibling_file_after_a_header_change(tmp_path: Path) -> None:
    """The base file has another (older) header, so rows went to ``_2``: both are scanned, each
    with its own header, and only ``_2`` is appended to."""
    columns = [c for c in sc.KIND_COLUMNS[sc.RecordKind.FILL] if c != "notes"]
    row = csv_row_function(sc.RecordKind.FILL)
    work = tmp_path / "work"
    work.mkdir()
    base = work / f"{FILLS}.csv"
    with open(base, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        full = dict(zip(sc.KIND_COLUMNS[sc.RecordKind.FILL], row(record(1), IsoTime()),
                        strict=True))  # fmt: skip
        writer.writerow([full[c] for c in columns])
    before = base.read_bytes()
    sibling = work / f"{FILLS}_2.csv"
    ends = write(CSV, tmp_path / "rows", [fills(2, 3), fills(4), fills(5)])
    exporter = CSV.build(work)
    exporter.export(fills(2, 3))
    exporter.export(fills(4, 5, 6))
    exporter.shutdown(1)
    assert sibling.exists()
    cut(sibling, ends[2] - 9)  # 4 whole, 5 cut short

    kept, recovery = restart(CSV, work, fills(1, 4, 5, 6, 7))

    assert [r.seq for r in kept] == [5, 6, 7]
    assert recovery["skipped"] == 2 and recovery["files_scanned"] == 2
    assert recovery["repaired_bytes"] == ends[2] - 9 - ends[1]
    assert base.read_bytes() == before
    assert CSV.keys(sibling) == [("run-a", seq) for seq in range(2, 8)]
    assert sibling.read_bytes() == clean(CSV, tmp_path, fills(2, 3, 4, 5, 6, 7))[base.name]


@pytest.mark.parametrize("fmt", [CSV, JSONL], ids=["csv", "jsonl"])
def test_open_handle_is_reopened_after_the_cut(tmp_path: Path, fmt: Format) -> None:
    """``recover`` on an exporter that still has the file open: it appends after the cut."""
    ends = write(fmt, tmp_path / "rows", [BATCHES[0], fills(4), fills(5)])
    work = tmp_path / "work"
    path = work / f"{FILLS}{fmt.suffix}"
    exporter = fmt.build(work)
    exporter.export(BATCHES[0])
    exporter.export(BATCHES[1])
    cut(path, ends[2] - 3)
    kept = list(exporter.recover(REPLAYED))
    exporter.export(kept)
    exporter.shutdown(1)
    assert [r.seq for r in kept] == [5, 6, 7, 8, 9]
    assert contents(work) == clean(fmt, tmp_path, fills(*range(1, 10)))


def test_csv_damaged_higher_up_is_sealed_not_cut(tmp_path: Path) -> None:
    """A row cut short in the middle of the file (a crash nobody recovered, then more rows) puts
    every later row inside its open quote: the "torn tail" would be many whole rows. The file is
    left as it is and the records go to ``_2``."""
    path = tmp_path / f"{FILLS}.csv"
    write(CSV, tmp_path, [fills(1, 2, 3, 6)])
    cut(path, path.read_bytes().index(b"line one"))  # 6 cut inside its quoted notes
    plain = [record(seq) for seq in range(10, 12 + MAX_TORN_ROW_ENDS)]  # no quotes at all
    write(CSV, tmp_path, [plain])
    before = path.read_bytes()

    kept, recovery = restart(CSV, tmp_path, fills(40, 41))

    assert [r.seq for r in kept] == [40, 41]
    assert recovery["files_sealed"] == 1 and recovery["repaired_bytes"] == 0
    assert path.read_bytes() == before
    assert CSV.keys(tmp_path / f"{FILLS}_2.csv") == [("run-a", 40), ("run-a", 41)]


# --- CSV and JSON Lines: the runs file ---------------------------------------------------------


def run(n: int, strategy: str | None = None) -> Run:
    return Run(run_id=f"r{n}", service_name="svc", mode="backtest", strategy=strategy)


RUNS_CASES = [
    (CSV, "in_a_row"),
    (CSV, "after_a_crlf_in_a_quoted_cell"),
    (CSV, "in_the_header"),
    (JSONL, "in_a_row"),
    (JSONL, "in_the_first_row"),
]


@pytest.mark.parametrize(("fmt", "where"), RUNS_CASES, ids=[f"{f.name}-{w}" for f, w in RUNS_CASES])
def test_torn_runs_file_is_repaired_when_opened(tmp_path: Path, fmt: Format, where: str) -> None:
    path = tmp_path / f"svc_runs{fmt.suffix}"
    exporter = fmt.build(tmp_path)
    for n in (1, 2):
        exporter.open(run(n))
    whole = path.stat().st_size
    exporter.open(run(3, strategy="two\r\nlines"))
    data = path.read_bytes()
    if where in ("in_the_header", "in_the_first_row"):
        size = 20
    elif where == "after_a_crlf_in_a_quoted_cell":
        size = data.index(b"two\r\n") + 5  # the file ends with \r\n, inside a quoted cell
    else:
        size = whole + 25
    cut(path, size)

    restarted = fmt.build(tmp_path)
    restarted.open(run(4))

    assert restarted.recovery["repaired_bytes"] == size - (0 if size == 20 else whole)
    if fmt is CSV:
        with open(path, newline="", encoding="utf-8") as file:
            header, *rows = list(csv.reader(file, strict=True))
        assert header[0] == "run_id" and all(len(row) == len(header) for row in rows)
        ids = [row[0] for row in rows]
    else:
        ids = [orjson.loads(line)["run_id"] for line in path.read_bytes().splitlines()]
    assert ids == (["r4"] if size == 20 else ["r1", "r2", "r4"])


# --- a Recorder's files, cut anywhere in the last records ------------------------------------


def _session(directory: Path) -> tuple[MemoryExporter, Path]:
    """A small trading session (spans around fills, decisions, an error with a traceback),
    written by CSV and JSON Lines exporters; the memory exporter has the export order."""
    memory = MemoryExporter()
    exporters = (
        CsvExporter(directory / "csv", "svc"),
        JsonLinesExporter(directory / "json", "svc"),
    )
    clock = tt.SimulatedClock("2024-05-12T23:59:58Z")
    rec = tt.Recorder(service_name="svc", exporters=(*exporters, memory), directory=directory,
                      clock=clock, mode="backtest")  # fmt: skip
    for i in range(40):
        with rec.span("rebalance", symbol="BTC-USDT"), rec.span("place"):
            rec.record_fill(symbol="BTC-USDT", side="buy", price=Decimal("67500.5") + i,
                            quantity=Decimal("0.01"), notes=NOTES[5 + i % 3])  # fmt: skip
            rec.record_decision("quote", symbol="BTC-USDT", reason=f"spread {i}\n€")
        if i % 7 == 0:
            try:
                raise ValueError(f"boom {i}")
            except ValueError as exc:
                rec.record_error("venue", exception=exc, message="a\r\nb")
        clock.advance_to(clock.now_ns() + 100_000_000)  # crosses midnight: two days of files
    assert rec.shutdown()
    return memory, directory


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 0.77, 0.999, 1.0])
def test_recorder_files_cut_anywhere_in_the_replay(tmp_path: Path, fraction: float) -> None:
    memory, directory = _session(tmp_path / "full")
    records = memory.records
    replayed = records[-60:]
    for sub, build in (("csv", CSV.build), ("json", JSONL.build)):
        full = directory / sub
        original = contents(full)
        before = tmp_path / f"before-{sub}"  # the files as they were at the checkpoint
        exporter = build(before)
        exporter.export(records[:-60])
        exporter.shutdown(1)
        checkpoint = contents(before)
        for name, data in original.items():
            start = len(checkpoint.get(name, b""))
            cut(full / name, start + round((len(data) - start) * fraction))

        restarted = build(full)
        kept = list(restarted.recover(replayed))
        restarted.export(kept)
        restarted.shutdown(1)

        assert contents(full) == original
        if fraction == 0.0:
            assert kept == replayed
        elif fraction == 1.0:
            assert kept == []
        else:
            assert 0 < len(kept) < len(replayed)
        assert restarted.recovery["skipped"] == len(replayed) - len(kept)
        print(f"\n{sub} cut at {fraction:.1%} of the replay: {restarted.recovery}")


# --- speed of the scan -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [CSV, JSONL], ids=["csv", "jsonl"])
def test_scan_speed(tmp_path: Path, fmt: Format) -> None:
    """The whole-file scan, on 50 000 rows (1 000 000 measured by hand: see the report)."""
    n = 50_000
    exporter = fmt.build(tmp_path)
    for start in range(0, n, 1000):
        exporter.export([record(seq, notes="hello, world") for seq in range(start, start + 1000)])
    exporter.shutdown(1)
    replayed = [record(seq) for seq in range(n - 500, n + 500)]
    restarted = fmt.build(tmp_path)
    began = time.perf_counter()
    kept = restarted.recover(replayed)
    seconds = time.perf_counter() - began
    assert [r.seq for r in kept] == list(range(n, n + 500))
    assert restarted.recovery["skipped"] == 500
    size = (tmp_path / f"{FILLS}{fmt.suffix}").stat().st_size
    print(f"\n{fmt.name} scan: {n / seconds:,.0f} rows/s, {size / seconds / 1e6:,.0f} MB/s")


# --- Parquet -----------------------------------------------------------------------------------


def parquet_keys(directory: Path) -> list[tuple[str, int]]:
    keys = []
    for path in sorted(directory.rglob("*.parquet")):
        table = pq.read_table(path, columns=["run_id", "seq"])
        keys += zip(table.column("run_id").to_pylist(), table.column("seq").to_pylist(),
                    strict=True)  # fmt: skip
    return sorted(keys)


def test_parquet_rotation_file_holds_part_of_the_replay(tmp_path: Path) -> None:
    exporter = ParquetExporter(tmp_path, rows_per_file=4)
    for batch in (fills(1, 2, 3, 4), fills(5, 6, 7, 8), fills(9, 10)):
        exporter.export(batch)  # files with 1-4 and 5-8; 9, 10 gathered, then killed
    other = ParquetExporter(tmp_path, rows_per_file=4)  # another run, same seqs, a similar name
    other.export(fills(5, 6, 7, 8, run="run-a-1"))
    assert len(exporter.files_written) == 2 and len(other.files_written) == 1

    restarted = ParquetExporter(tmp_path, rows_per_file=4)
    kept = list(restarted.recover(fills(*range(5, 13))))
    restarted.export(kept)
    restarted.shutdown(1)

    assert [r.seq for r in kept] == [9, 10, 11, 12]
    assert restarted.recovery == {
        "skipped": 4,
        "files_scanned": 2,
        "files_unreadable": 0,
        "temporary_removed": 0,
    }
    expected = [("run-a", s) for s in range(1, 13)] + [("run-a-1", s) for s in range(5, 9)]
    assert parquet_keys(tmp_path) == sorted(expected)
    print(f"\nparquet: {restarted.recovery}")


def test_parquet_leftover_temporary_files_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "kind=fill" / "date=2024-05-12"
    folder.mkdir(parents=True)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    old = time.time() - LEFTOVER_AFTER_S - 5
    names = {
        "dead": f".run-a-{child.pid}-0badcafe.parquet.tmp",
        "mine_from_before": f".run-a-{os.getpid()}-1badcafe.parquet.tmp",
        "alive": f".run-a-{os.getppid()}-2badcafe.parquet.tmp",
        "dead_but_fresh": f".run-b-{child.pid}-3badcafe.parquet.tmp",
    }
    for label, name in names.items():
        (folder / name).write_bytes(b"PAR1")
        if label != "dead_but_fresh":
            os.utime(folder / name, (old, old))

    restarted = ParquetExporter(tmp_path)
    assert restarted.recover(fills(1)) == fills(1)

    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [names["alive"], names["dead_but_fresh"]]
    )
    assert restarted.recovery["temporary_removed"] == 2


def test_parquet_unreadable_file_keeps_its_records(tmp_path: Path) -> None:
    folder = tmp_path / "kind=fill" / "date=2024-05-12"
    folder.mkdir(parents=True)
    (folder / "run-a-1.parquet").write_bytes(b"not parquet")
    restarted = ParquetExporter(tmp_path)
    assert restarted.recover(fills(1, 2)) == fills(1, 2)
    assert restarted.recovery["files_unreadable"] == 1


# --- DuckDB --------------------------------------------------------------------------------------


def test_duckdb_counts_replayed_rows_it_ignores(tmp_path: Path) -> None:
    path = tmp_path / "tradetrace.duckdb"
    exporter = DuckDBExporter(path)
    exporter.export(fills(*range(1, 11)))
    exporter.shutdown(1)
    restarted = DuckDBExporter(path)
    assert restarted.recover(fills(5, 11, 12)) == fills(11, 12)  # asks the database first
    assert restarted.recovery == {"skipped": 1}
    restarted.export(fills(*range(5, 16)))  # a re-delivered batch: the key ignores repeats
    restarted.shutdown(1)
    assert restarted.recovery == {"skipped": 7}
    with duckdb.connect(str(path)) as connection:
        seqs = connection.execute("SELECT seq FROM records ORDER BY seq").fetchall()
    assert [s for (s,) in seqs] == list(range(1, 16))
