"""Benchmark: the caller's cost of recording one fill, and exporter throughput.

Run from the repository root (tradetrace installed, e.g. ``pip install -e .``)::

    python benchmarks/record.py           # 7 x 20 000 calls; 3 runs of 1 000 000 records
    python benchmarks/record.py --quick   # 5 x 5 000 calls; 5 runs of 100 000 records

Everything is printed from one run: medians, ratios, and PASS/MISS against the goals.

Part 1 - median cost per call of recording a fill carrying the seed logger's 17 trade fields
(16 values plus a timestamp; each subject stamps the time its own way):

(a) ``Recorder.record_fill(...)`` with one exporter that discards batches (the dispatcher and
    exporter threads run, as in production);
(b) stdlib ``logging`` ``logger.info("fill", extra={...})`` into a handler whose ``emit`` does
    nothing;
(c) the OpenTelemetry SDK logs API: ``logger.emit(attributes={...})`` through a
    ``BatchLogRecordProcessor`` into an exporter that discards batches;
(d) the seed's way: build a ``TradeLogEntry`` dataclass, open the CSV file for append, write
    ``dataclasses.astuple(entry)``, close it - for every fill.

The numbers are floats for all four (OpenTelemetry attributes cannot hold Decimals); an extra
"(info)" row times record_fill with exact decimal strings instead. Goals: record_fill / logging
<= 0.5 and seed / record_fill >= 30. otel / record_fill is shown for reference.

Part 2 - exporter throughput: the same fill records go through ``CsvExporter`` and
``JsonLinesExporter`` (``open``, ``export`` in batches of 512, ``shutdown``), and, as the
baseline, a bare ``csv.writer`` / ``orjson.dumps`` writes the very rows and objects the exporter
writes, computed beforehand outside the timed region. Goals: bare time / exporter time >= 0.5
for both (the exporter costs at most twice the bare write), judged on wall time. stdlib
``json.dumps`` is a second, slower reference for JSON Lines. User and system CPU seconds are
shown too: system time (page faults, writes) varies from run to run on some machines.

The garbage collector stays on (it runs in production); the fixtures of part 2 are moved out of
its way with ``gc.freeze()`` so that a million live input records do not tax whichever writer
allocates most.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gc
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from workload import FILL, describe_environment, verdict

import tradetrace
from tradetrace import semconv as sc
from tradetrace.exporters.csv import CsvExporter, csv_row_function
from tradetrace.exporters.jsonl import JsonLinesExporter
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.exporters.rows import IsoTime, json_default, json_object
from tradetrace.pipeline.run import Run
from tradetrace.records import Record

# --- settings and fixtures ------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    calls: int  # calls per timed loop in part 1
    repeats: int  # timed loops per subject in part 1 (the median is reported)
    records: int  # records per exporter run in part 2
    export_repeats: int  # runs per writer in part 2 (the median is reported)
    batch_size: int = 512


FULL = Settings(calls=20_000, repeats=7, records=1_000_000, export_repeats=3)
QUICK = Settings(calls=5_000, repeats=5, records=100_000, export_repeats=5)


#: The same fill written the way a decimal-minded user would (exact decimal strings).
DECIMAL_NUMBERS = ("price", "quantity", "fee", "realized_pnl", "spread_captured")

#: 2024-05-12T00:00:00Z: part 2's records are one millisecond apart from here, one UTC day.
BASE_NS = 1_715_472_000 * 1_000_000_000

GOAL_LOGGING = 0.5
GOAL_SEED = 30.0
GOAL_EXPORT = 0.5


@dataclass
class TradeLogEntry:
    """The seed logger's trade row: 18 fields, ``timestamp`` and ``datetime_utc`` first."""

    timestamp: float
    datetime_utc: str
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    price: float
    size: float
    fee: float
    fee_asset: str
    realized_pnl: float
    spread_captured: float
    inventory_before: float
    inventory_after: float
    equity_before: float
    equity_after: float
    notes: str


# --- small helpers --------------------------------------------------------------------------



@contextmanager
def scratch_directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tradetrace-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def frozen_fixtures() -> Iterator[None]:
    """Keep the objects alive now out of the collector's scans (``gc.freeze``)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# --- part 1: one call -----------------------------------------------------------------------


@dataclass
class Subject:
    """Something to time: ``loop(n)`` makes n calls; ``between`` runs after each timed loop."""

    label: str
    loop: Callable[[int], None]
    between: Callable[[], None] = lambda: None
    close: Callable[[], None] = lambda: None


def median_ns_per_call(subject: Subject, settings: Settings) -> float:
    """Median over ``repeats`` timed loops of ``calls`` calls (after one untimed warm-up)."""
    subject.loop(min(settings.calls, 2_000))
    subject.between()
    per_call: list[float] = []
    for _ in range(settings.repeats):
        start = time.perf_counter_ns()
        subject.loop(settings.calls)
        per_call.append((time.perf_counter_ns() - start) / settings.calls)
        subject.between()
    subject.close()
    return statistics.median(per_call)


class NullExporter(tradetrace.BaseExporter):
    """Accepts every batch and writes nothing."""

    name = "null"

    def export(self, batch: Sequence[Record]) -> tradetrace.ExportResult:
        return tradetrace.ExportResult.SUCCESS


def record_fill_subject(directory: Path, decimal_strings: bool = False) -> Subject:
    rec = tradetrace.Recorder(
        service_name="bench",
        exporters=(NullExporter(),),
        directory=directory,
        queue_size=1_000_000,
    )
    f = dict(FILL)
    if decimal_strings:
        f.update({key: repr(f[key]) for key in DECIMAL_NUMBERS})
    symbol, side, price, quantity = f["symbol"], f["side"], f["price"], f["quantity"]
    fee, fee_currency, order_id = f["fee"], f["fee_currency"], f["order_id"]
    client_order_id, order_type = f["client_order_id"], f["order_type"]
    realized_pnl, spread_captured = f["realized_pnl"], f["spread_captured"]
    inventory_before, inventory_after = f["inventory_before"], f["inventory_after"]
    equity_before, equity_after, notes = f["equity_before"], f["equity_after"], f["notes"]
    record_fill = rec.record_fill

    def loop(n: int) -> None:
        for _ in range(n):
            record_fill(
                symbol=symbol, side=side, price=price, quantity=quantity, fee=fee,
                fee_currency=fee_currency, order_id=order_id, client_order_id=client_order_id,
                order_type=order_type, realized_pnl=realized_pnl,
                spread_captured=spread_captured, inventory_before=inventory_before,
                inventory_after=inventory_after, equity_before=equity_before,
                equity_after=equity_after, notes=notes,
            )  # fmt: skip

    def close() -> None:
        result = rec.shutdown()
        health = rec.health()
        if not result or health.get("internal_errors"):
            raise SystemExit(f"record_fill benchmark lost records: {result}; {health}")

    label = "(a) tradetrace record_fill" + (" [decimal strings]" if decimal_strings else "")
    return Subject(label, loop, lambda: rec.flush(), close)


class _DiscardHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        pass


def logging_subject() -> Subject:
    logger = logging.getLogger("tradetrace.benchmarks.fills")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = _DiscardHandler()
    logger.addHandler(handler)
    f = FILL
    symbol, side, price, quantity = f["symbol"], f["side"], f["price"], f["quantity"]
    fee, fee_currency, order_id = f["fee"], f["fee_currency"], f["order_id"]
    client_order_id, order_type = f["client_order_id"], f["order_type"]
    realized_pnl, spread_captured = f["realized_pnl"], f["spread_captured"]
    inventory_before, inventory_after = f["inventory_before"], f["inventory_after"]
    equity_before, equity_after, notes = f["equity_before"], f["equity_after"], f["notes"]
    info = logger.info

    def loop(n: int) -> None:
        for _ in range(n):
            info("fill", extra={
                "symbol": symbol, "side": side, "price": price, "quantity": quantity,
                "fee": fee, "fee_currency": fee_currency, "order_id": order_id,
                "client_order_id": client_order_id, "order_type": order_type,
                "realized_pnl": realized_pnl, "spread_captured": spread_captured,
                "inventory_before": inventory_before, "inventory_after": inventory_after,
                "equity_before": equity_before, "equity_after": equity_after, "notes": notes,
            })  # fmt: skip

    return Subject(
        "(b) logging.info(extra=...), no-op handler",
        loop,
        close=lambda: logger.removeHandler(handler),
    )


class NullLogRecordExporter(LogRecordExporter):
    """Accepts every batch of OpenTelemetry log records and writes nothing."""

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def otel_subject() -> Subject:
    provider = LoggerProvider()
    provider.add_log_record_processor(
        BatchLogRecordProcessor(NullLogRecordExporter(), max_queue_size=1_000_000)
    )
    emit = provider.get_logger("tradetrace.benchmarks").emit
    info_level = SeverityNumber.INFO
    f = FILL
    symbol, side, price, quantity = f["symbol"], f["side"], f["price"], f["quantity"]
    fee, fee_currency, order_id = f["fee"], f["fee_currency"], f["order_id"]
    client_order_id, order_type = f["client_order_id"], f["order_type"]
    realized_pnl, spread_captured = f["realized_pnl"], f["spread_captured"]
    inventory_before, inventory_after = f["inventory_before"], f["inventory_after"]
    equity_before, equity_after, notes = f["equity_before"], f["equity_after"], f["notes"]

    def loop(n: int) -> None:
        for _ in range(n):
            emit(severity_number=info_level, severity_text="INFO", body="fill", attributes={
                sc.SYMBOL: symbol, sc.ORDER_SIDE: side, sc.FILL_PRICE: price,
                sc.FILL_QUANTITY: quantity, sc.FEE_AMOUNT: fee, sc.FEE_CURRENCY: fee_currency,
                sc.ORDER_ID: order_id, sc.ORDER_CLIENT_ID: client_order_id,
                sc.ORDER_TYPE: order_type, sc.FILL_REALIZED_PNL: realized_pnl,
                sc.FILL_SPREAD_CAPTURED: spread_captured,
                sc.POSITION_INVENTORY_BEFORE: inventory_before,
                sc.POSITION_INVENTORY_AFTER: inventory_after,
                sc.POSITION_EQUITY_BEFORE: equity_before,
                sc.POSITION_EQUITY_AFTER: equity_after, sc.NOTES: notes,
            })  # fmt: skip

    return Subject(
        "(c) OpenTelemetry SDK logger.emit, batch",
        loop,
        lambda: provider.force_flush(),
        provider.shutdown,
    )


def seed_subject(directory: Path) -> Subject:
    path = directory / "seed_trades.csv"
    with open(path, "w", newline="") as file:
        csv.writer(file).writerow(field.name for field in dataclasses.fields(TradeLogEntry))
    f = FILL

    def loop(n: int) -> None:
        for _ in range(n):
            entry = TradeLogEntry(
                timestamp=time.time(),
                datetime_utc=datetime.now(timezone.utc).isoformat(),
                order_id=f["order_id"], client_order_id=f["client_order_id"],
                symbol=f["symbol"], side=f["side"], order_type=f["order_type"],
                price=f["price"], size=f["quantity"], fee=f["fee"],
                fee_asset=f["fee_currency"], realized_pnl=f["realized_pnl"],
                spread_captured=f["spread_captured"], inventory_before=f["inventory_before"],
                inventory_after=f["inventory_after"], equity_before=f["equity_before"],
                equity_after=f["equity_after"], notes=f["notes"],
            )  # fmt: skip
            with open(path, "a", newline="") as file:
                csv.writer(file).writerow(dataclasses.astuple(entry))

    return Subject("(d) seed: dataclass + open/append/close", loop)


def part_one(settings: Settings) -> None:
    print(
        f"Part 1 - one recorded fill, 17 fields: median of {settings.repeats} loops "
        f"x {settings.calls:,} calls"
    )
    with scratch_directory() as directory:
        subjects = {
            "record_fill": record_fill_subject(directory),
            "logging": logging_subject(),
            "otel": otel_subject(),
            "seed": seed_subject(directory),
            "record_fill_decimal": record_fill_subject(directory, decimal_strings=True),
        }
        medians = {key: median_ns_per_call(s, settings) for key, s in subjects.items()}
    print(f"  {'subject':<48}{'µs/call':>10}")
    for key, subject in subjects.items():
        note = "  (info)" if key == "record_fill_decimal" else ""
        print(f"  {subject.label:<48}{medians[key] / 1000:>10.3f}{note}")
    fill = medians["record_fill"]
    vs_logging = fill / medians["logging"]
    vs_seed = medians["seed"] / fill
    print()
    print(f"  {'ratio':<48}{'value':>10}  goal")
    print(
        f"  {'record_fill / logging':<48}{vs_logging:>10.3f}  {'<= 0.5':<8}"
        f"{verdict(vs_logging <= GOAL_LOGGING)}"
    )
    print(
        f"  {'seed / record_fill':<48}{vs_seed:>10.1f}  {'>= 30':<8}{verdict(vs_seed >= GOAL_SEED)}"
    )
    print(f"  {'otel / record_fill':<48}{medians['otel'] / fill:>10.3f}  (ref)")


# --- part 2: exporter throughput ------------------------------------------------------------


def fill_attributes() -> dict[str, Any]:
    """The attributes ``record_fill(**FILL)`` produces, in its order (checked at start-up)."""
    rec = tradetrace.Recorder(service_name="bench", exporters=(MemoryExporter(),), queue_size=16)
    rec.record_fill(**FILL)
    rec.shutdown()
    memory = rec.exporters[0]
    assert isinstance(memory, MemoryExporter)
    return dict(memory.records[0].attributes)


def fill_records(count: int) -> list[Record]:
    """``count`` fill records one millisecond apart, each with its own order ids."""
    template = fill_attributes()
    records: list[Record] = []
    for i in range(count):
        attributes = dict(template)
        attributes[sc.ORDER_ID] = f"ord-1720000000-{i:06d}"
        attributes[sc.ORDER_CLIENT_ID] = f"as-mm-{i:06d}"
        time_ns = BASE_NS + i * 1_000_000
        records.append(Record(i + 1, "bench", "fill", "fill", time_ns, time_ns + 25_000, None,
                              None, None, None, None, None, "INFO", None, attributes))  # fmt: skip
    return records


def batches_of(records: list[Record], size: int) -> list[list[Record]]:
    return [records[i : i + size] for i in range(0, len(records), size)]


def run_exporter(make: Callable[[Path], Any], batches: list[list[Record]], directory: Path) -> None:
    """Build, open, export every batch and shut down one exporter."""
    exporter = make(directory)
    exporter.open(Run(run_id="bench", service_name="bench", mode="live"))
    for batch in batches:
        if exporter.export(batch) is not tradetrace.ExportResult.SUCCESS:
            raise SystemExit(f"{exporter!r} failed a batch")
    exporter.shutdown(10.0)


def csv_rows(records: list[Record]) -> list[list[Any]]:
    """The cells CsvExporter writes for ``records``."""
    row, iso = csv_row_function(sc.RecordKind.FILL), IsoTime()
    return [row(r, iso) for r in records]


def json_objects(records: list[Record]) -> list[dict[str, Any]]:
    """The objects JsonLinesExporter writes for ``records`` (Decimals already as text)."""
    iso = IsoTime()
    objects = []
    for r in records:
        obj = json_object(r, iso)
        obj["attributes"] = {
            k: json_default(v) if type(v) is Decimal else v for k, v in r.attributes.items()
        }
        objects.append(obj)
    return objects


def write_bare_csv(rows: list[list[Any]], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(sc.KIND_COLUMNS[sc.RecordKind.FILL])
        writer.writerows(rows)


def write_bare_orjson(objects: list[dict[str, Any]], path: Path) -> None:
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    with open(path, "wb") as file:
        write = file.write
        for obj in objects:
            write(dumps(obj, option=option))


def write_stdlib_json(objects: list[dict[str, Any]], path: Path) -> None:
    dumps = json.dumps
    with open(path, "w", encoding="utf-8") as file:
        write = file.write
        for obj in objects:
            write(dumps(obj, separators=(",", ":")) + "\n")


@dataclass(frozen=True)
class Timing:
    """Median wall-clock, user CPU and system CPU seconds of one writer."""

    wall: float
    user: float
    system: float


def median_timings(
    writers: dict[str, Callable[[Path], None]], repeats: int, root: Path
) -> dict[str, Timing]:
    """Run each writer ``repeats`` times, taking them in turn (so drift hits all alike), each
    time into a fresh folder removed afterwards; medians of wall, user and system seconds."""
    runs: dict[str, list[tuple[float, float, float]]] = {label: [] for label in writers}
    for index in range(repeats):
        for label, write in writers.items():
            folder = root / f"run{index}"
            folder.mkdir()
            before, wall = os.times(), time.perf_counter_ns()
            write(folder)
            elapsed, after = (time.perf_counter_ns() - wall) / 1e9, os.times()
            runs[label].append((elapsed, after.user - before.user, after.system - before.system))
            shutil.rmtree(folder)
    return {
        label: Timing(*(statistics.median(column) for column in zip(*values, strict=True)))
        for label, values in runs.items()
    }


def check_same_output(
    make: Callable[[Path], Any], records: list[Record], bare: Callable[[Path], None], root: Path
) -> None:
    """Refuse to time a baseline that does not write the exporter's bytes."""
    folder = root / "check"
    folder.mkdir()
    run_exporter(make, [records], folder / "exporter")
    written = [p for p in (folder / "exporter").iterdir() if "_fills_" in p.name]
    bare(folder / "bare")
    if len(written) != 1 or written[0].read_bytes() != (folder / "bare").read_bytes():
        raise SystemExit(f"the bare baseline does not write what {make(folder)!r} writes")
    shutil.rmtree(folder)


CSV_EXPORTER = "CsvExporter (open, export, shutdown)"
CSV_BARE = "bare csv.writer, same rows"
JSONL_EXPORTER = "JsonLinesExporter (open, export, shutdown)"
JSONL_BARE = "bare orjson.dumps, same objects"
JSONL_STDLIB = "stdlib json.dumps, same objects"
CHECKED = 1_000  # records whose output is compared byte for byte before timing


def csv_exporter(directory: Path) -> CsvExporter:
    return CsvExporter(directory, "bench")


def jsonl_exporter(directory: Path) -> JsonLinesExporter:
    return JsonLinesExporter(directory, "bench")


def time_csv(records: list[Record], settings: Settings, root: Path) -> dict[str, Timing]:
    batches = batches_of(records, settings.batch_size)
    rows = csv_rows(records)
    check_same_output(csv_exporter, records[:CHECKED],
                      lambda path: write_bare_csv(rows[:CHECKED], path), root)  # fmt: skip
    with frozen_fixtures():
        return median_timings(
            {
                CSV_EXPORTER: lambda d: run_exporter(csv_exporter, batches, d),
                CSV_BARE: lambda d: write_bare_csv(rows, d / "fills.csv"),
            },
            settings.export_repeats,
            root,
        )


def time_jsonl(records: list[Record], settings: Settings, root: Path) -> dict[str, Timing]:
    batches = batches_of(records, settings.batch_size)
    objects = json_objects(records)
    check_same_output(jsonl_exporter, records[:CHECKED],
                      lambda path: write_bare_orjson(objects[:CHECKED], path), root)  # fmt: skip
    with frozen_fixtures():
        return median_timings(
            {
                JSONL_EXPORTER: lambda d: run_exporter(jsonl_exporter, batches, d),
                JSONL_BARE: lambda d: write_bare_orjson(objects, d / "fills.jsonl"),
                JSONL_STDLIB: lambda d: write_stdlib_json(objects, d / "fills.jsonl"),
            },
            settings.export_repeats,
            root,
        )


def print_writers(results: dict[str, Timing], count: int) -> None:
    print(f"  {'writer':<48}{'wall s':>10}{'records/s':>12}{'user s':>9}{'sys s':>8}")
    for label, t in results.items():
        print(f"  {label:<48}{t.wall:>10.3f}{count / t.wall:>12,.0f}{t.user:>9.2f}{t.system:>8.2f}")


def print_ratio(label: str, bare: Timing, exporter: Timing, goal: float | None) -> None:
    wall, user = bare.wall / exporter.wall, bare.user / max(exporter.user, 1e-9)
    verdict_text = "(ref)" if goal is None else f"{f'>= {goal}':<8}{verdict(wall >= goal)}"
    print(f"  {label:<48}{wall:>10.3f}{user:>12.3f}  {verdict_text}")


def part_two(settings: Settings) -> None:
    n = settings.records
    print(
        f"Part 2 - exporter throughput: {n:,} fill records, batches of "
        f"{settings.batch_size}, median of {settings.export_repeats} runs"
    )
    records = fill_records(n)
    with scratch_directory() as root:
        results = time_csv(records, settings, root)
        results.update(time_jsonl(records, settings, root))
    print_writers(results, n)
    print()
    print(f"  {'ratio (bare time / exporter time)':<48}{'wall':>10}{'user cpu':>12}  goal (wall)")
    print_ratio("bare csv.writer / CsvExporter", results[CSV_BARE], results[CSV_EXPORTER],
                GOAL_EXPORT)  # fmt: skip
    print_ratio("bare orjson / JsonLinesExporter", results[JSONL_BARE],
                results[JSONL_EXPORTER], GOAL_EXPORT)  # fmt: skip
    print_ratio("stdlib json / JsonLinesExporter", results[JSONL_STDLIB],
                results[JSONL_EXPORTER], None)  # fmt: skip


# --- main -----------------------------------------------------------------------------------



def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and 100 000 records")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    started = time.perf_counter()
    environment = describe_environment(
        f"opentelemetry-sdk {version('opentelemetry-sdk')}", f"orjson {orjson.__version__}"
    )
    print(f"benchmarks/record.py{' --quick' if args.quick else ''}: {environment}")
    print()
    part_one(settings)
    print()
    part_two(settings)
    print()
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
