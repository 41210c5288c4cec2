"""Benchmark: the DuckDB and Parquet exporters against bare Arrow writes, and SQL over fills.

Run from the repository root (tradetrace installed, e.g. ``pip install -e .``)::

    python benchmarks/exporters.py          # 1 000 000 records; queries over 10 000 000 fills
    python benchmarks/exporters.py --quick  # 100 000 records; queries over 1 000 000 fills

Everything is printed from one run, with PASS/MISS against the goals.

Part 1 - exporter throughput. Fill records built as ``Recorder.record_fill`` builds them (semconv
keys, float prices and sizes, 16 attributes) go through the exporter (``open``, ``export`` in
batches of 512, ``shutdown``), generated in chunks so that a million Python records are never
alive at once; only the exporter's calls are timed. The baselines write the very same rows,
converted to Arrow beforehand outside the timed region:

* DuckDB: one ``INSERT INTO records SELECT * FROM <table>`` of all the rows into a fresh file
  with the exporter's own tables (primary key included), then ``CHECKPOINT``;
* Parquet: ``pyarrow.parquet.write_table`` of the same files (100 000 rows each, the
  exporter's schema and compression).

Goals: bare time / exporter time >= 0.5 for both.

Part 2 - two SQL queries over fills generated inside DuckDB (``range()`` and ``random()``,
cast to the ``records`` table of the DuckDB exporter): ``summary`` (count, realized PnL, fees,
winning and losing trades) and ``pnl_daily`` (per UTC day and symbol: count, volume
``price x size``, fees, realized PnL; each factor of the product rounded to 9 places as the
``pnl_daily`` view does, since DECIMAL(38,18) cannot hold the exact product). Median of 3 runs
each; goal: under 2 s each for 10 000 000 fills. ``pnl_daily`` without the volume is shown for
reference: on DECIMAL(38,18), a 128-bit integer, DuckDB's rescaling casts dominate.

Part 3 - peak RSS (``resource.getrusage``; ``VmHWM`` on Linux). Every phase above runs in a
process of its own, one after the other, so that each is measured alone: run in one interpreter,
unrelated phases would add up the memory the allocators of Python, Arrow and DuckDB keep for
reuse after each. Goal: the largest tradetrace process (an exporter run or the queries) under
500 MB. The bare baselines hold every row as one Arrow table by design; they are shown for
reference. The query database is opened with ``memory_limit = '256MB'``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from workload import FILL, describe_environment, peak_rss_mb, verdict

import tradetrace
from tradetrace import semconv as sc
from tradetrace.exporters.arrow_table import records_table
from tradetrace.exporters.duckdb import (
    MEMORY_LIMIT,
    THREADS,
    DuckDBExporter,
    connect,
    prepare,
)
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.exporters.parquet import ParquetExporter, parquet_table
from tradetrace.pipeline.run import Run
from tradetrace.records import Record


@dataclass(frozen=True)
class Settings:
    records: int  # records through each exporter
    query_fills: int  # fills in the query table
    repeats: int  # runs per writer (the median is reported)
    batch_size: int = 512
    chunk: int = 25_600  # records alive at once while exporting (a multiple of batch_size)
    rows_per_file: int = 100_000


FULL = Settings(records=1_000_000, query_fills=10_000_000, repeats=3)
QUICK = Settings(records=100_000, query_fills=1_000_000, repeats=3)

GOAL_RATIO = 0.5
GOAL_QUERY_S = 2.0
GOAL_RSS_MB = 500.0
QUERY_MEMORY_LIMIT = "256MB"
#: 2024-05-12T00:00:00Z: records are one millisecond apart from here.
BASE_NS = 1_715_472_000 * 1_000_000_000
RUN = Run(run_id="bench", service_name="bench", mode="backtest", clock_source="simulated")





def own_peak_rss_mb() -> float:
    """Peak RSS of a child process since its ``exec`` (Linux keeps the parent's high-water
    mark of before the exec in ``ru_maxrss``; ``VmHWM`` does not)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


@contextmanager
def scratch_directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tradetrace-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- fixtures -------------------------------------------------------------------------------


def fill_template() -> dict[str, Any]:
    """The attributes ``record_fill(**FILL)`` produces, in its order."""
    memory = MemoryExporter()
    rec = tradetrace.Recorder(service_name="bench", exporters=(memory,), queue_size=16)
    rec.record_fill(**FILL)
    rec.shutdown()
    return dict(memory.records[0].attributes)


def fill_chunks(settings: Settings) -> Iterator[list[Record]]:
    """The benchmark's fills, ``settings.chunk`` at a time, the same on every call: prices on a
    0.01 grid, sizes on a 0.0001 grid, PnL and fees with 4 and 6 decimals, unique order ids."""
    template = fill_template()
    rng = random.Random(42)
    symbols = ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT")
    for start in range(0, settings.records, settings.chunk):
        chunk: list[Record] = []
        for i in range(start, min(start + settings.chunk, settings.records)):
            a = dict(template)
            a[sc.SYMBOL] = symbols[i % 4]
            a[sc.ORDER_SIDE] = "BUY" if i % 2 else "SELL"
            a[sc.FILL_PRICE] = round(60_000 + rng.random() * 1_000, 2)
            a[sc.FILL_QUANTITY] = round(0.0001 + rng.random() * 2, 4)
            a[sc.FEE_AMOUNT] = round(rng.random() * 0.5, 6)
            a[sc.FILL_REALIZED_PNL] = round((rng.random() - 0.48) * 100, 4)
            a[sc.ORDER_ID] = f"ord-1720000000-{i:07d}"
            a[sc.ORDER_CLIENT_ID] = f"as-mm-{i:07d}"
            t = BASE_NS + i * 1_000_000
            chunk.append(Record(i + 1, RUN.run_id, "fill", "fill", t, t + 25_000, None, None,
                                None, None, None, None, "INFO", None, a))  # fmt: skip
        yield chunk


def batches(chunk: list[Record], size: int) -> Iterator[list[Record]]:
    for i in range(0, len(chunk), size):
        yield chunk[i : i + size]


def timed_exporter(exporter: Any, settings: Settings) -> float:
    """Seconds spent in the exporter's ``open``, ``export`` and ``shutdown`` calls (record
    generation excluded; each chunk is moved out of the collector's way with ``gc.freeze``)."""
    spent = 0.0
    start = time.perf_counter()
    exporter.open(RUN)
    spent += time.perf_counter() - start
    for chunk in fill_chunks(settings):
        gc.collect()
        gc.freeze()
        start = time.perf_counter()
        for batch in batches(chunk, settings.batch_size):
            if exporter.export(batch) is not tradetrace.ExportResult.SUCCESS:
                raise SystemExit(f"{exporter!r} failed a batch")
        spent += time.perf_counter() - start
        gc.unfreeze()
    start = time.perf_counter()
    exporter.shutdown(60.0)
    return spent + time.perf_counter() - start


def arrow_chunks(settings: Settings) -> Iterator[pa.Table]:
    """The exporters' Arrow tables of the benchmark's fills, one per chunk."""
    for chunk in fill_chunks(settings):
        yield pa.concat_tables(records_table(b) for b in batches(chunk, settings.batch_size))


# --- part 1: exporters ----------------------------------------------------------------------


def duckdb_exporter(settings: Settings, root: Path) -> dict[str, Any]:
    path = root / "exporter.duckdb"
    seconds = timed_exporter(DuckDBExporter(path), settings)
    with duckdb.connect(str(path)) as connection:
        rows = connection.execute("SELECT count(*) FROM records").fetchone()
    if rows is None or rows[0] != settings.records:
        raise SystemExit(f"the DuckDB exporter wrote {rows} rows, not {settings.records}")
    return {"seconds": seconds}


def duckdb_bare(settings: Settings, root: Path) -> dict[str, Any]:
    table = pa.concat_tables(arrow_chunks(settings))
    gc.collect()
    connection = connect(root / "bare.duckdb")
    connection.execute("SET memory_limit = ?", [MEMORY_LIMIT])  # the exporter's settings
    connection.execute("SET threads = ?", [THREADS])
    prepare(connection)
    start = time.perf_counter()
    connection.register("fills", table)
    connection.execute("INSERT INTO records SELECT * FROM fills")
    connection.execute("CHECKPOINT")
    connection.close()
    return {"seconds": time.perf_counter() - start}


def parquet_exporter(settings: Settings, root: Path) -> dict[str, Any]:
    exporter = ParquetExporter(root / "exporter-parquet", rows_per_file=settings.rows_per_file)
    seconds = timed_exporter(exporter, settings)
    files = list((root / "exporter-parquet").rglob("*.parquet"))
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    if rows != settings.records:
        raise SystemExit(f"the Parquet exporter wrote {rows} rows, not {settings.records}")
    return {"seconds": seconds}


def parquet_bare(settings: Settings, root: Path) -> dict[str, Any]:
    whole = pa.concat_tables(arrow_chunks(settings))
    tables = [
        parquet_table(whole.slice(i, settings.rows_per_file))
        for i in range(0, whole.num_rows, settings.rows_per_file)
    ]
    del whole
    folder = root / "bare-parquet"
    folder.mkdir()
    gc.collect()
    start = time.perf_counter()
    for index, table in enumerate(tables):
        pq.write_table(table, folder / f"bare-{index}.parquet", compression="zstd")
    return {"seconds": time.perf_counter() - start}


WRITERS: dict[str, Callable[[Settings, Path], dict[str, Any]]] = {
    "duckdb-exporter": duckdb_exporter,
    "duckdb-bare": duckdb_bare,
    "parquet-exporter": parquet_exporter,
    "parquet-bare": parquet_bare,
}
LABELS = {
    "duckdb-exporter": "DuckDBExporter (open, export, shutdown)",
    "duckdb-bare": "bare INSERT of the Arrow table + CHECKPOINT",
    "parquet-exporter": "ParquetExporter (open, export, shutdown)",
    "parquet-bare": "bare pyarrow.parquet.write_table",
}


def run_phase(phase: str, settings: Settings, root: Path, quick: bool) -> dict[str, Any]:
    """Run one phase in a child process (see Part 3); its result, with its peak RSS."""
    folder = Path(tempfile.mkdtemp(prefix=f"{phase}-", dir=root))
    try:
        command = [sys.executable, __file__, "--phase", phase, "--directory", str(folder)]
        done = subprocess.run(command + (["--quick"] if quick else []), capture_output=True,
                              text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"{phase} failed:\n{done.stderr}")
        result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        PEAKS.setdefault(phase, []).append(result["peak_mb"])
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def part_one(settings: Settings, root: Path, quick: bool) -> None:
    n = settings.records
    print(
        f"Part 1 - exporter throughput: {n:,} fill records, batches of {settings.batch_size}, "
        f"median of {settings.repeats} runs"
    )
    runs: dict[str, list[float]] = {writer: [] for writer in WRITERS}
    for _ in range(settings.repeats):  # in turn, so that drift hits all alike
        for writer in WRITERS:
            runs[writer].append(run_phase(writer, settings, root, quick)["seconds"])
    seconds = {writer: statistics.median(values) for writer, values in runs.items()}
    print(f"  {'writer':<48}{'wall s':>10}{'records/s':>12}")
    for writer, value in seconds.items():
        print(f"  {LABELS[writer]:<48}{value:>10.3f}{n / value:>12,.0f}")
    print()
    print(f"  {'ratio (bare time / exporter time)':<48}{'value':>10}  goal")
    for label, bare, exporter in (
        ("bare INSERT / DuckDBExporter", "duckdb-bare", "duckdb-exporter"),
        ("bare write_table / ParquetExporter", "parquet-bare", "parquet-exporter"),
    ):
        ratio = seconds[bare] / seconds[exporter]
        goal = f">= {GOAL_RATIO}"
        print(f"  {label:<48}{ratio:>10.3f}  {goal:<10}{verdict(ratio >= GOAL_RATIO)}")


# --- part 2: queries ------------------------------------------------------------------------

_PRODUCT = "CAST(price AS DECIMAL(38,9)) * CAST(size AS DECIMAL(38,9))"
QUERIES: dict[str, str] = {
    "summary": """SELECT count(*) AS trades, sum(realized_pnl) AS realized_pnl,
  sum(fee) AS fees, count(*) FILTER (WHERE realized_pnl > 0) AS winning_trades,
  count(*) FILTER (WHERE realized_pnl < 0) AS losing_trades
FROM records WHERE kind = 'fill'""",
    "pnl_daily": f"""SELECT date_trunc('day', time) AS day, symbol, count(*) AS trades,
  sum({_PRODUCT}) AS volume, sum(fee) AS fees, sum(realized_pnl) AS realized_pnl
FROM records WHERE kind = 'fill' GROUP BY ALL ORDER BY ALL""",
    "pnl_daily without volume (info)": """SELECT date_trunc('day', time) AS day, symbol,
  count(*) AS trades, sum(fee) AS fees, sum(realized_pnl) AS realized_pnl
FROM records WHERE kind = 'fill' GROUP BY ALL ORDER BY ALL""",
}

#: The fills, generated inside DuckDB: 1 ms apart, 4 symbols, prices on a 0.01 grid, sizes on a
#: 0.0001 grid, fees with 6 decimals, PnL with 4 (about 52 % winners).
GENERATE = """INSERT INTO records (seq, run_id, kind, name, time, time_ns, observed_time,
  observed_ns, severity, symbol, side, order_id, price, size, fee, fee_asset, realized_pnl)
SELECT i + 1, 'bench', 'fill', 'fill',
  make_timestamp(1715472000000000 + i * 1000)::TIMESTAMPTZ,
  1715472000000000000 + i * 1000000,
  make_timestamp(1715472000000025 + i * 1000)::TIMESTAMPTZ,
  1715472000000025000 + i * 1000000, 'INFO',
  ['BTC-USDT', 'ETH-USDT', 'SOL-USDT', 'XRP-USDT'][1 + i % 4],
  CASE WHEN i % 2 = 0 THEN 'BUY' ELSE 'SELL' END, 'ord-' || i,
  (6000000 + (random() * 100000)::BIGINT)::DECIMAL(18,2),
  (1 + (random() * 20000)::BIGINT)::DECIMAL(18,4),
  ((random() * 500000)::BIGINT)::DECIMAL(18,6), 'USDT',
  ((random() * 1000000)::BIGINT - 480000)::DECIMAL(18,4)
FROM range(?) AS t(i)"""


def run_queries(settings: Settings, root: Path) -> dict[str, Any]:
    """Generate the fills, then time each query (median of 3 runs)."""
    connection = connect(root / "queries.duckdb")
    connection.execute("SET memory_limit = ?", [QUERY_MEMORY_LIMIT])
    connection.execute("SET TimeZone = 'UTC'")
    prepare(connection)
    start = time.perf_counter()
    connection.execute(GENERATE, [settings.query_fills])
    connection.execute("CHECKPOINT")
    generated = time.perf_counter() - start
    medians = {}
    for label, sql in QUERIES.items():
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            connection.execute(sql).fetchall()
            runs.append(time.perf_counter() - start)
        medians[label] = statistics.median(runs)
    connection.close()
    return {"generated": generated, "medians": medians}


def part_two(settings: Settings, root: Path, quick: bool) -> None:
    n = settings.query_fills
    print(f"Part 2 - SQL over {n:,} fills in a DuckDB records table (median of 3 runs)")
    result = run_phase("queries", settings, root, quick)
    print(f"  generated in {result['generated']:.1f} s")
    print(f"  {'query':<48}{'median s':>10}  goal")
    for label, seconds in result["medians"].items():
        if label.endswith("(info)"):
            print(f"  {label:<48}{seconds:>10.3f}  (ref)")
        else:
            goal = f"< {GOAL_QUERY_S:g} s"
            print(f"  {label:<48}{seconds:>10.3f}  {goal:<10}{verdict(seconds < GOAL_QUERY_S)}")


def part_three() -> None:
    print("Part 3 - memory: peak RSS per process (MB), the largest of its runs")
    print(f"  {'process':<48}{'MB':>10}  goal")
    for phase in (*WRITERS, "queries"):
        print(f"  {PHASE_LABELS[phase]:<48}{max(PEAKS[phase]):>10.1f}")
    ours = max(max(PEAKS[p]) for p in ("duckdb-exporter", "parquet-exporter", "queries"))
    goal = f"< {GOAL_RSS_MB:g} MB"
    print(f"  {'largest tradetrace process':<48}{ours:>10.1f}  {goal:<10}"
          f"{verdict(ours < GOAL_RSS_MB)}")  # fmt: skip
    print(f"  {'this process (runs the others)':<48}{peak_rss_mb():>10.1f}  (ref)")


PHASES: dict[str, Callable[[Settings, Path], dict[str, Any]]] = {**WRITERS, "queries": run_queries}
PHASE_LABELS = {**LABELS, "queries": "SQL over the generated fills"}
#: Peak RSS of each child process, by phase, in MB.
PEAKS: dict[str, list[float]] = {}


# --- main -----------------------------------------------------------------------------------



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 000 records, 1 000 000 fills")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--directory", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.phase:  # a child process: one phase, its result and peak RSS as one JSON line
        result = PHASES[args.phase](settings, args.directory)
        print(json.dumps({**result, "peak_mb": own_peak_rss_mb()}))
        return 0
    started = time.perf_counter()
    environment = describe_environment(f"duckdb {duckdb.__version__}", f"pyarrow {pa.__version__}")
    print(f"benchmarks/exporters.py{' --quick' if args.quick else ''}: {environment}")
    print()
    with scratch_directory() as root:
        part_one(settings, root, args.quick)
        print()
        part_two(settings, root, args.quick)
    print()
    part_three()
    print()
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
