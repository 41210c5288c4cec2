"""Benchmark: the durable spool - a recording call per sync policy, throughput, recovery.

Run from the repository root (tradetrace installed, e.g. ``pip install -e .``)::

    python benchmarks/spool.py           # 3 rounds x 3 loops x 20 000 calls; a 1 GiB spool
    python benchmarks/spool.py --quick   # 2 rounds x 2 loops x 5 000 calls; a 100 MiB spool
    python benchmarks/spool.py --full    # also replay the whole spool through a Recorder

Everything is printed from one run, with PASS/MISS against the goal.

Part 1 - the caller's cost of ``Recorder.record_fill(...)`` with the seed logger's 16 trade
values (as in ``benchmarks/record.py``) in memory mode (``durability="memory"``) and in spool
mode (``durability="spool"``) with ``spool_sync`` ``none``, ``interval`` (every 0.1 s, the
default) and ``always`` (``fdatasync`` per record), each with the same exporters: none at all
(``exporters=()``: the caller's own cost, nothing competes for the GIL) and the realistic
``("csv", "jsonl", "duckdb")`` (their threads run, as in production). Every call is timed on
its own with ``perf_counter_ns``; the timer's own cost (median of back-to-back reads) is
subtracted. Mean, p50, p99 and p99.9 over all calls. Each mode runs in a fresh process per
round, the modes taken in turn each round, so that drift hits all alike; every process makes
one untimed warm-up loop, then its timed loops. The garbage collector stays on (it runs in
production); between loops, untimed, the recorder is flushed and ``gc.collect()`` runs.
``always`` makes fewer calls (an ``fdatasync`` each). Goal: spool mean / memory mean <= 3 with
``interval``, for both exporter setups; the other ratios are shown for reference.

Part 2 - end-to-end throughput: record N fills (untimed per call), then ``flush()``; records/s
from the first call until every exporter (csv, jsonl, duckdb) has all of them, per mode, median
of the rounds, each run in a fresh process. Memory mode gets a queue of N records (it would
otherwise drop when the caller outruns the exporters; the spool holds everything anyway).

Part 3 - recovery. A Recorder in spool mode (``spool_sync="none"``, no exporter, so nothing is
acknowledged or freed) records a market-making loop - a span around a decision, an order, two
fills and a risk check, then a ledger event with a snapshot - until its spool holds 1 GiB
(``--quick``: 100 MiB), and is halted as a killed process would be. Then, each in a fresh
process, a ``Spool`` is opened on the directory and the time of its recovery scan (every
segment read, every frame's length and CRC checked) is taken: first with the files evicted from
the page cache (``fsync`` then ``posix_fadvise(DONTNEED)``, file by file: a cold start; on a
virtual machine the host may still cache them), then again with them cached. With ``--full``,
a Recorder with only a ``MemoryExporter`` is then opened on the spool and timed until every
record is delivered (``flush()``). The files live in a temporary directory (``tempfile``, the
disk of ``/tmp``) removed at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
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
from workload import FILL, describe_environment, load_average, peak_rss_mb, verdict

import tradetrace
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.pipeline.durable import DurableProcessor
from tradetrace.pipeline.health import InternalErrors
from tradetrace.pipeline.spool import MAGIC, Spool

# --- settings and fixtures ------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    calls: int  # calls per timed loop in part 1
    loops: int  # timed loops per process in part 1
    rounds: int  # processes per mode, the modes taken in turn (parts 1 and 2)
    always_calls: int  # calls per timed loop with spool_sync="always"
    records: int  # records per throughput run in part 2
    always_records: int  # the same with spool_sync="always"
    spool_bytes: int  # size of the spool recovered in part 3


FULL = Settings(calls=20_000, loops=3, rounds=3, always_calls=2_000, records=200_000,
                always_records=10_000, spool_bytes=1 << 30)  # fmt: skip
QUICK = Settings(calls=5_000, loops=2, rounds=2, always_calls=500, records=50_000,
                 always_records=2_000, spool_bytes=100 << 20)  # fmt: skip

GOAL_INTERVAL = 3.0
MODES = ("memory", "none", "interval", "always")
MODE_LABELS = {
    "memory": "memory",
    "none": "spool, sync=none",
    "interval": "spool, sync=interval",
    "always": "spool, sync=always",
}
SETUPS: dict[str, tuple[str, ...]] = {"none": (), "files": ("csv", "jsonl", "duckdb")}
SETUP_LABELS = {"none": "exporters=()", "files": "csv, jsonl, duckdb"}






@contextmanager
def scratch_directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tradetrace-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make_recorder(
    mode: str, exporters: tuple[Any, ...], directory: Path, **options: Any
) -> tradetrace.Recorder:
    """A Recorder in memory mode or in spool mode with sync policy ``mode``."""
    if mode != "memory":
        options.update(durability="spool", spool_sync=mode)
    return tradetrace.Recorder(service_name="bench", exporters=exporters, directory=directory,
                               handle_signals=False, **options)  # fmt: skip


def fill_loop(rec: tradetrace.Recorder) -> Callable[[int, list[int] | None], None]:
    """``loop(n, samples)``: n ``record_fill`` calls, each timed into ``samples`` if given."""
    f = FILL
    symbol, side, price, quantity = f["symbol"], f["side"], f["price"], f["quantity"]
    fee, fee_currency, order_id = f["fee"], f["fee_currency"], f["order_id"]
    client_order_id, order_type = f["client_order_id"], f["order_type"]
    realized_pnl, spread_captured = f["realized_pnl"], f["spread_captured"]
    inventory_before, inventory_after = f["inventory_before"], f["inventory_after"]
    equity_before, equity_after, notes = f["equity_before"], f["equity_after"], f["notes"]
    record_fill = rec.record_fill
    clock = time.perf_counter_ns

    def loop(n: int, samples: list[int] | None) -> None:
        if samples is None:
            for _ in range(n):
                record_fill(
                    symbol=symbol, side=side, price=price, quantity=quantity, fee=fee,
                    fee_currency=fee_currency, order_id=order_id,
                    client_order_id=client_order_id, order_type=order_type,
                    realized_pnl=realized_pnl, spread_captured=spread_captured,
                    inventory_before=inventory_before, inventory_after=inventory_after,
                    equity_before=equity_before, equity_after=equity_after, notes=notes,
                )  # fmt: skip
            return
        append = samples.append
        for _ in range(n):
            start = clock()
            record_fill(
                symbol=symbol, side=side, price=price, quantity=quantity, fee=fee,
                fee_currency=fee_currency, order_id=order_id, client_order_id=client_order_id,
                order_type=order_type, realized_pnl=realized_pnl,
                spread_captured=spread_captured, inventory_before=inventory_before,
                inventory_after=inventory_after, equity_before=equity_before,
                equity_after=equity_after, notes=notes,
            )  # fmt: skip
            append(clock() - start)

    return loop


def timer_overhead_ns(n: int = 100_000) -> float:
    """Median of two back-to-back ``perf_counter_ns`` reads, timed as the calls are."""
    clock = time.perf_counter_ns
    samples: list[int] = []
    append = samples.append
    for _ in range(n):
        start = clock()
        append(clock() - start)
    return statistics.median(samples)


def settle(rec: tradetrace.Recorder) -> None:
    if not rec.flush(300):
        raise SystemExit(f"flush did not finish: {rec.health()}")
    gc.collect()


def close(rec: tradetrace.Recorder, expected: int | None = None) -> None:
    """Shut down; refuse a run that dropped, failed or lost records."""
    result = rec.shutdown(300)
    health = rec.health()
    exported = {name: c["exported"] for name, c in health["exporters"].items()}
    short = expected is not None and any(n != expected for n in exported.values())
    if not result or health["dropped"] or health.get("internal_errors") or short:
        raise SystemExit(f"the benchmark lost records: {result}; {health}")


# --- part 1: one call -----------------------------------------------------------------------


def phase_call(settings: Settings, mode: str, setup: str, directory: Path) -> dict[str, Any]:
    """Per-call nanoseconds of ``record_fill`` in one mode and exporter setup."""
    calls = settings.always_calls if mode == "always" else settings.calls
    rec = make_recorder(mode, SETUPS[setup], directory)
    loop = fill_loop(rec)
    loop(min(calls, 2_000), [])
    settle(rec)
    samples: list[int] = []
    for _ in range(settings.loops):
        loop(calls, samples)
        settle(rec)
    overhead = timer_overhead_ns()
    close(rec)
    return {"samples": samples, "overhead": overhead}


@dataclass(frozen=True)
class CallStats:
    """Per-call figures in ns (timer overhead subtracted)."""

    calls: int
    mean: float
    p50: float
    p99: float
    p999: float


def call_stats(samples: list[int], overhead: float) -> CallStats:
    ordered = sorted(samples)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, int(q * n))] - overhead

    return CallStats(n, sum(ordered) / n - overhead, at(0.5), at(0.99), at(0.999))


def part_one(settings: Settings, root: Path, quick: bool) -> None:
    s = settings
    print(
        f"Part 1 - one record_fill (16 seed values), per call: {s.rounds} rounds (fresh "
        f"processes, modes in turn) x {s.loops} loops x {s.calls:,} calls "
        f"(sync=always: {s.always_calls:,} calls)"
    )
    stats: dict[tuple[str, str], CallStats] = {}
    overheads: list[float] = []
    for setup in SETUPS:
        samples: dict[str, list[int]] = {mode: [] for mode in MODES}
        for _ in range(s.rounds):
            for mode in MODES:
                result = run_phase(root, quick, "call", "--mode", mode, "--setup", setup)
                samples[mode].extend(result["samples"])
                overheads.append(result["overhead"])
        overhead = statistics.median(overheads)
        for mode in MODES:
            stats[setup, mode] = call_stats(samples[mode], overhead)
    print(f"  timer overhead subtracted: {statistics.median(overheads):.0f} ns per call")
    print(f"  {'exporters':<20}{'durability':<22}{'calls':>9}{'mean µs':>10}{'p50 µs':>9}"
          f"{'p99 µs':>9}{'p99.9 µs':>10}")  # fmt: skip
    for setup in SETUPS:
        for mode in MODES:
            c = stats[setup, mode]
            label = SETUP_LABELS[setup] if mode == "memory" else ""
            print(f"  {label:<20}{MODE_LABELS[mode]:<22}{c.calls:>9,}{c.mean / 1000:>10.3f}"
                  f"{c.p50 / 1000:>9.3f}{c.p99 / 1000:>9.3f}{c.p999 / 1000:>10.3f}")  # fmt: skip
    print()
    print(f"  {'ratio spool / memory':<42}{'mean':>9}{'p50':>9}{'p99':>9}  goal (mean)")
    for setup in SETUPS:
        memory = stats[setup, "memory"]
        for mode in MODES[1:]:
            c = stats[setup, mode]
            mean = c.mean / memory.mean
            label = f"{SETUP_LABELS[setup]}: sync={mode}"
            goal = f"{f'<= {GOAL_INTERVAL:g}':<8}{verdict(mean <= GOAL_INTERVAL)}"
            goal = goal if mode == "interval" else "(ref)"
            print(f"  {label:<42}{mean:>9.2f}{c.p50 / memory.p50:>9.2f}"
                  f"{c.p99 / memory.p99:>9.2f}  {goal}")  # fmt: skip


# --- part 2: end to end ---------------------------------------------------------------------


def phase_throughput(settings: Settings, mode: str, directory: Path) -> dict[str, Any]:
    """Record N fills, then flush: seconds spent recording and until everything is exported."""
    n = settings.always_records if mode == "always" else settings.records
    rec = make_recorder(mode, SETUPS["files"], directory, queue_size=n + 1_024)
    loop = fill_loop(rec)
    loop(100, None)
    settle(rec)
    start = time.perf_counter()
    loop(n, None)
    recorded = time.perf_counter()
    if not rec.flush(600):
        raise SystemExit(f"flush did not finish: {rec.health()}")
    done = time.perf_counter()
    close(rec, expected=n + 100)
    return {"records": n, "recording": recorded - start, "total": done - start}


def part_two(settings: Settings, root: Path, quick: bool) -> None:
    print(
        f"Part 2 - end to end: record N fills, then flush() until csv, jsonl and duckdb hold "
        f"them all; median of {settings.rounds} runs (fresh processes, modes in turn)"
    )
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for _ in range(settings.rounds):
        for mode in MODES:
            runs[mode].append(run_phase(root, quick, "throughput", "--mode", mode))
    print(f"  {'durability':<24}{'records':>9}{'record s':>10}{'flush s':>9}{'total s':>9}"
          f"{'records/s':>11}{'recording/s':>13}")  # fmt: skip
    rates: dict[str, float] = {}
    for mode, results in runs.items():
        n = results[0]["records"]
        total = statistics.median(r["total"] for r in results)
        recording = statistics.median(r["recording"] for r in results)
        rates[mode] = n / total
        print(f"  {MODE_LABELS[mode]:<24}{n:>9,}{recording:>10.3f}{total - recording:>9.3f}"
              f"{total:>9.3f}{n / total:>11,.0f}{n / recording:>13,.0f}")  # fmt: skip
    print()
    print(f"  {'ratio (spool records/s / memory records/s)':<48}{'value':>8}")
    for mode in MODES[1:]:
        print(f"  {f'sync={mode}':<48}{rates[mode] / rates['memory']:>8.2f}  (ref)")


# --- part 3: recovery -----------------------------------------------------------------------


def market_round(rec: tradetrace.Recorder) -> Callable[[int], None]:
    """One round of a market-making loop: 7 records."""

    def one(i: int) -> None:
        mid = 67_500.0 + (i % 1_000) * 0.5
        order_id = f"ord-1720000000-{i:07d}"
        with rec.span("rebalance", symbol="BTC-USDT"):
            rec.record_decision("quote", inputs={"mid": mid, "inventory": 0.012, "gamma": 0.1},
                                result={"bid": mid - 1.5, "ask": mid + 1.5}, reason="skew",
                                symbol="BTC-USDT")  # fmt: skip
            rec.record_order("submit", symbol="BTC-USDT", side="BUY", order_type="LIMIT",
                             price=mid - 1.5, quantity=0.0015, order_id=order_id,
                             client_order_id=f"as-mm-{i:07d}")  # fmt: skip
            for _ in range(2):
                rec.record_fill(**{**FILL, "price": mid - 1.5, "order_id": order_id,
                                   "client_order_id": f"as-mm-{i:07d}"})  # fmt: skip
            rec.record_risk_check("max_position", passed=True, limit=1.0, observed=0.0135,
                                  symbol="BTC-USDT")  # fmt: skip
        rec.record_event("GAS_FEE_PAID", venue="ETHEREUM", token="ETH", amount="0.0021",
                         snapshot={"wallet": {"ETH": "1.5", "USDT": f"{mid:.2f}"}})  # fmt: skip

    return one


def durable_of(rec: tradetrace.Recorder) -> DurableProcessor:
    processor = rec._processor
    assert isinstance(processor, DurableProcessor)
    return processor


def phase_build(settings: Settings, directory: Path) -> dict[str, Any]:
    """Fill a spool to ``spool_bytes`` with a Recorder, then halt it (as ``kill -9`` would)."""
    rec = make_recorder("none", (), directory, spool_directory=directory / "spool")
    durable = durable_of(rec)
    spool = durable.spool
    one = market_round(rec)
    start = time.perf_counter()
    i = 0
    while spool.used_bytes + (64 << 10) < settings.spool_bytes:
        one(i)
        i += 1
    seconds = time.perf_counter() - start
    durable.halt()  # as a killed process: nothing flushed, the files stay
    if spool.dropped or rec.health().get("internal_errors"):
        raise SystemExit(f"building the spool dropped records: {rec.health()}")
    return {"records": spool.appended, "bytes": spool.used_bytes, "seconds": seconds}


def evict(directory: Path) -> float:
    """Write the spool's files back and drop them from the page cache; seconds taken."""
    start = time.perf_counter()
    for path in directory.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return time.perf_counter() - start


def phase_recover(settings: Settings, cold: bool, directory: Path) -> dict[str, Any]:
    """Open a Spool on the built directory: the recovery scan, timed."""
    folder = directory / "spool"
    evicted = evict(folder) if cold else 0.0
    gc.collect()
    start = time.perf_counter()
    spool = Spool(folder, errors=InternalErrors(), sync="none")
    seconds = time.perf_counter() - start
    spool.abandon()  # keep the files; drop the empty segment this open began
    spool.path_of(spool.recovered_end - len(MAGIC)).unlink()
    return {"seconds": seconds, "evicted": evicted, "report": spool.recovery.as_dict(),
            "peak_mb": peak_rss_mb()}  # fmt: skip


def phase_replay(settings: Settings, directory: Path) -> dict[str, Any]:
    """Open a Recorder (memory exporter only) on the spool; time until all is delivered."""
    memory = MemoryExporter()
    gc.collect()
    start = time.perf_counter()
    rec = make_recorder("interval", (memory,), directory, spool_directory=directory / "spool")
    opened = time.perf_counter() - start
    result = rec.flush(3_600)
    seconds = time.perf_counter() - start
    delivered = len(memory.records)
    rec.shutdown(600)
    if not result:
        raise SystemExit(f"the replay did not finish: {result}; {rec.health()}")
    return {"seconds": seconds, "opened": opened, "records": delivered, "peak_mb": peak_rss_mb()}


def part_three(settings: Settings, root: Path, quick: bool, full: bool) -> None:
    size = settings.spool_bytes
    gib = f"{size / (1 << 30):.2f} GiB" if size >= 1 << 30 else f"{size >> 20} MiB"
    print(f"Part 3 - recovery of a {gib} spool{' (--quick)' if quick else ''} "
          f"({size / 1e9:.2f} GB)")  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="spool-", dir=root))
    try:
        built = run_phase(root, quick, "build", directory=folder)
        n, size = built["records"], built["bytes"]
        segments = len(list((folder / "spool").glob("*.seg")))
        print(f"  built by a Recorder (spool, sync=none, no exporter) in {built['seconds']:.1f} "
              f"s: {n:,} records, {size:,} bytes, {size / n:.0f} bytes/record, "
              f"{segments} segments")  # fmt: skip
        cold = run_phase(root, quick, "recover", "--cold", directory=folder)
        warm = run_phase(root, quick, "recover", directory=folder)
        for result in (cold, warm):
            report = result["report"]
            if report["records"] != n or report["discarded_bytes"]:
                raise SystemExit(f"recovery found {report}, not {n:,} records")
        print(f"  (the cold run first wrote back and evicted the files: {cold['evicted']:.1f} s)")
        print(f"  {'open a Spool on it (recovery scan)':<44}{'seconds':>9}{'GB/s':>8}"
              f"{'records/s':>13}{'peak MB':>9}")  # fmt: skip
        for label, r in (("page cache cold (evicted)", cold), ("page cache warm", warm)):
            s = r["seconds"]
            print(f"  {label:<44}{s:>9.3f}{size / s / 1e9:>8.2f}{n / s:>13,.0f}"
                  f"{r['peak_mb']:>9.0f}  (ref)")  # fmt: skip
            print(f"  {'  of which the scan (RecoveryReport.seconds)':<44}"
                  f"{r['report']['seconds']:>9.3f}")  # fmt: skip
        if full:
            replay = run_phase(root, quick, "replay", directory=folder)
            if replay["records"] != n:
                raise SystemExit(f"the replay delivered {replay['records']:,} of {n:,} records")
            s, peak = replay["seconds"], replay["peak_mb"]
            print(f"  {'full replay: Recorder + MemoryExporter':<44}{s:>9.3f}"
                  f"{size / s / 1e9:>8.2f}{n / s:>13,.0f}{peak:>9.0f}  (ref)")  # fmt: skip
            print(f"  {'  of which opening the Recorder':<44}{replay['opened']:>9.3f}")
        else:
            print("  (full replay through a Recorder: run with --full)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- processes and main ---------------------------------------------------------------------


def run_phase(root: Path, quick: bool, *args: str, directory: Path | None = None) -> Any:
    """Run one phase in a fresh child process; its result (the child's last stdout line).
    Without ``directory``, the phase gets a fresh folder under ``root``, removed afterwards."""
    folder = directory or Path(tempfile.mkdtemp(prefix="phase-", dir=root))
    try:
        command = [sys.executable, __file__, "--phase", *args, "--directory", str(folder)]
        done = subprocess.run(command + (["--quick"] if quick else []), capture_output=True,
                              text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
        return json.loads(done.stdout.splitlines()[-1])
    finally:
        if directory is None:
            shutil.rmtree(folder, ignore_errors=True)


def run_child(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    phase, directory = args.phase, args.directory
    if phase == "call":
        return phase_call(settings, args.mode, args.setup, directory)
    if phase == "throughput":
        return phase_throughput(settings, args.mode, directory)
    if phase == "build":
        return phase_build(settings, directory)
    if phase == "recover":
        return phase_recover(settings, args.cold, directory)
    return phase_replay(settings, directory)



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, a 100 MiB spool")
    parser.add_argument("--full", action="store_true", help="also replay the whole spool")
    parser.add_argument("--phase", choices=("call", "throughput", "build", "recover", "replay"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--setup", choices=sorted(SETUPS), help=argparse.SUPPRESS)
    parser.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--directory", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.phase:  # a child process: one phase, its result as one JSON line
        print(json.dumps(run_child(args, settings)))
        return 0
    started = time.perf_counter()
    flags = "".join(f" --{f}" for f in ("quick", "full") if getattr(args, f))
    environment = describe_environment(f"duckdb {duckdb.__version__}")
    environment += f"; files under {tempfile.gettempdir()}"
    print(f"benchmarks/spool.py{flags}: {environment}")
    print(f"at start: {load_average()}")
    print()
    with scratch_directory() as root:
        part_one(settings, root, args.quick)
        print()
        part_two(settings, root, args.quick)
        print()
        part_three(settings, root, args.quick, args.full)
    print()
    print(f"at end: {load_average()}")
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
