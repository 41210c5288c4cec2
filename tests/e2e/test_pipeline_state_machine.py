"""Stateful test of the durable pipeline: record, flush, exporter failure, crash-and-recover and
acknowledge, in random order; every invariant of DESIGN.md holds after each step.

The pipeline is a spool-mode Recorder over one directory with real CSV, JSON Lines and DuckDB
exporters and a :class:`FlakyExporter` that can be switched to fail or raise. A crash is
``DurableProcessor.halt()`` (the lanes stop as a killed process's would, the spool stays on disk)
followed by a new Recorder, with a new run id, on the same directory: the spool is replayed.
Sometimes the crash also loses the last checkpoints (exported, never acknowledged): the records
come again and each sink must recognise what it already holds. Sometimes the process dies inside
a span: its seq was taken but is never written, which ``verify`` must report as such.

Checked at every flush and, after a final shutdown, over the files and the database: every
returned ``(run_id, seq)`` is in CSV, JSON Lines and DuckDB exactly once and in the flaky exporter
at least once (it is at-least-once); seqs of a run are 1..n; a child's ``parent_seq`` is its
span's seq and below its own; ``time_ns`` and ``observed_ns`` are ints; prices are exact; no call
raised into the caller; the only internal errors are the exceptions the test injected; a clean
shutdown leaves no spool segment; ``verify`` finds nothing wrong but the unfinished spans.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import tradetrace as tt
from tradetrace import semconv as sc
from tradetrace.exporters.base import BaseExporter, ExportResult
from tradetrace.exporters.duckdb import DuckDBExporter
from tradetrace.pipeline.spool_codec import decode
from tradetrace.query.source import open_source
from tradetrace.records import Record

SERVICE = "machine"
SEGMENT_BYTES = 2_048  # small spool segments, so that acknowledging releases some
INJECTED = frozenset({"exporter_export:flaky"})  # the only internal errors allowed
FINAL = frozenset(s.value for s, after in sc.STATUS_TRANSITIONS.items() if not after)
BROKEN_FLUSH_S = 0.3

prices = st.builds(
    lambda digits, places, sign: Decimal((sign, tuple(int(c) for c in str(digits)), -places)),
    st.integers(0, 10**18),
    st.integers(0, 18),
    st.integers(0, 1),
)


class Switch:
    """How the flaky exporter behaves now: ``ok``, ``fail`` (returns FAILURE), ``outage``
    (raises ConnectionError) or ``bug`` (raises RuntimeError)."""

    mode = "ok"


@dataclass(frozen=True)
class Seen:
    """What the flaky exporter received of one record."""

    run_id: str
    seq: int
    kind: str
    parent_seq: int | None
    price: Any


class FlakyExporter(BaseExporter):
    """Writes through to ``sink`` (shared across restarts, like a remote backend) unless the
    switch says otherwise."""

    name = "flaky"
    durable_on_export = True

    def __init__(self, switch: Switch, sink: list[Seen]) -> None:
        self.switch = switch
        self.sink = sink

    def export(self, batch: Sequence[Record]) -> ExportResult:
        mode = self.switch.mode
        if mode == "fail":
            return ExportResult.FAILURE
        if mode == "outage":
            raise ConnectionError("flaky exporter: connection refused")
        if mode == "bug":
            raise RuntimeError("flaky exporter: a bug")
        self.sink.extend(
            Seen(r.run_id, r.seq, r.kind, r.parent_seq, r.attributes.get(sc.FILL_PRICE))
            for r in batch
        )
        return ExportResult.SUCCESS


@dataclass(frozen=True)
class Expected:
    """A record the caller got a seq for."""

    kind: str
    parent_seq: int | None = None
    price: Decimal | None = None
    updates_seq: int | None = None


Key = tuple[str, int]  # (run_id, seq)


class PipelineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory()
        self.directory = Path(self._tmp.name)
        self.spool = self.directory / "spool" / SERVICE
        self.switch = Switch()
        self.sink: list[Seen] = []
        self.expected: dict[Key, Expected] = {}
        self.taken: dict[str, int] = {}  # run_id -> last seq returned
        self.crashed: set[str] = set()
        self.recorders: list[tt.Recorder] = []
        self.checkpoints: dict[str, bytes] = {}  # saved at the last acknowledgement
        self.events: dict[int, str] = {}  # this run's events and bundles -> status
        self.unwritten: dict[str, int] = {}  # run -> the span it died inside
        self.inside: dict[str, list[int]] = {}  # run -> the records made inside that span

    # --- the pipeline --------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        self.rec = self._recorder()

    def _recorder(self) -> tt.Recorder:
        rec = tt.Recorder(
            service_name=SERVICE,
            exporters=("csv", "jsonl", "duckdb", FlakyExporter(self.switch, self.sink)),
            directory=self.directory, durability="spool", handle_signals=False,
            schedule_delay=0.01, spool_sync="none",
        )  # fmt: skip
        for lane in rec._processor._lanes:
            lane.max_backoff = 0.05  # retry quickly once healed
        rec._processor.spool.segment_bytes = SEGMENT_BYTES
        self.recorders.append(rec)
        self.taken[rec.run_id] = 0
        self.events = {}
        return rec

    def _took(self, seq: int, expected: Expected | None) -> None:
        """The caller got ``seq``: the next one of the run, never seen before (``None``: an
        operation that will never be written, the process dies inside it)."""
        run = self.rec.run_id
        assert seq == self.taken[run] + 1, f"run {run}: seq {seq} after {self.taken[run]}"
        self.taken[run] = seq
        if expected is None:
            self.unwritten[run] = seq
        else:
            self.expected[(run, seq)] = expected

    # --- rules: recording ----------------------------------------------------------------

    @rule(price=prices, side=st.sampled_from(["BUY", "SELL"]))
    def record_fill(self, price: Decimal, side: str) -> None:
        seq = self.rec.record_fill(
            symbol="BTC-USDT", side=side, price=price, quantity="0.5", fee="0.01"
        )
        self._took(seq, Expected("fill", price=price))

    @rule(amount=prices)
    def record_event(self, amount: Decimal) -> None:
        seq = self.rec.record_event("DEPOSIT", venue="BINANCE", amount=amount)
        self._took(seq, Expected("event"))
        self.events[seq] = "pending"

    @rule(bundle=st.booleans(), children=st.lists(prices, max_size=3))
    def span_with_children(self, bundle: bool, children: list[Decimal]) -> None:
        opened = self.rec.bundle("ATOMIC_ENTRY") if bundle else self.rec.span("rebalance")
        kids = []
        with opened as span:
            for i, price in enumerate(children):
                if i % 2:
                    kids.append((span.record_event("FLASH_BORROW", amount=price), None))
                else:
                    fill = self.rec.record_fill(symbol="ETH-USDT", side="BUY", price=price,
                                                quantity="1")  # fmt: skip
                    kids.append((fill, price))
        self._took(span.seq, Expected("event" if bundle else "span"))
        for seq, price in kids:
            kind = "fill" if price is not None else "event"
            self._took(seq, Expected(kind, parent_seq=span.seq, price=price))
        if bundle:
            self.events[span.seq] = "completed"

    @rule(count=st.integers(20, 150))
    def record_burst(self, count: int) -> None:
        """Many records at once: several batches and spool segments."""
        for i in range(count):
            price = Decimal(i).scaleb(-(i % 19))
            seq = self.rec.record_fill(symbol="SOL-USDT", side="SELL", price=price, quantity=1)
            self._took(seq, Expected("fill", price=price))

    @precondition(lambda self: any(s not in FINAL for s in self.events.values()))
    @rule(data=st.data())
    def update_event(self, data: st.DataObject) -> None:
        movable = sorted(seq for seq, status in self.events.items() if status not in FINAL)
        seq = data.draw(st.sampled_from(movable), label="event")
        now = sc.Status(self.events[seq])
        status = data.draw(
            st.sampled_from(sorted(s.value for s in sc.STATUS_TRANSITIONS[now])), label="status"
        )
        update = self.rec.update_event(seq, status, reason="moved on")
        self._took(update, Expected("event", updates_seq=seq))
        self.events[seq] = status

    @rule(what=st.sampled_from(["nan price", "unknown event", "bad transition"]))
    def refused_call(self, what: str) -> None:
        """Refused calls raise InvalidRecordError naming the field, and take no seq."""
        final = [seq for seq, status in self.events.items() if status in FINAL]
        if what == "bad transition" and final:
            with pytest.raises(tt.LifecycleError) as refused:
                self.rec.update_event(final[0], "pending")
            field = "status"
        elif what == "nan price":
            with pytest.raises(tt.InvalidRecordError) as refused:
                self.rec.record_fill(symbol="BTC-USDT", side="BUY", price=float("nan"),
                                     quantity=1)  # fmt: skip
            field = "price"
        else:
            with pytest.raises(tt.InvalidRecordError) as refused:
                self.rec.update_event(self.taken[self.rec.run_id] + 1_000, "confirmed")
            field = "seq"
        assert refused.value.field == field and str(refused.value).startswith(f"{field}=")

    # --- rules: the flaky exporter -------------------------------------------------------

    @rule(mode=st.sampled_from(["fail", "outage", "bug"]))
    def break_flaky(self, mode: str) -> None:
        self.switch.mode = mode

    @rule()
    def heal_flaky(self) -> None:
        self.switch.mode = "ok"

    # --- rules: flush, acknowledge, crash ------------------------------------------------

    @rule()
    def flush(self) -> None:
        """A flush returns by its timeout; a failing exporter delays none of the others."""
        if self.switch.mode == "ok":
            result = self.rec.flush(10)
            assert result, result
            self.check_sinks(flaky=True)
            return
        for _ in range(20):  # one flush is enough unless the machine is very busy
            started = time.monotonic()
            result = self.rec.flush(BROKEN_FLUSH_S)
            assert time.monotonic() - started < BROKEN_FLUSH_S + 1.0, "flush overran"
            if not any(n for name, n in result.pending.items() if name != "flaky"):
                break
        else:
            raise AssertionError(f"the failing exporter held the others back: {result}")
        self.check_sinks(flaky=False)

    @precondition(lambda self: self.switch.mode == "ok")
    @rule()
    def acknowledge(self) -> None:
        """Once every exporter acknowledged everything, every closed segment is deleted."""
        before = self.rec.health()["spool"]
        result = self.rec.flush(10)
        assert result, result
        after = self.rec.health()
        spool = after["spool"]
        assert spool["segments"] == 1 and len(list(self.spool.glob("*.seg"))) == 1, spool
        assert spool["bytes"] <= before["bytes"], (before, spool)
        if before["segments"] > 1:
            assert spool["bytes"] < before["bytes"], (before, spool)
        end = self.rec._processor.spool.end
        for name, lane in after["exporters"].items():
            assert lane["acknowledged_position"] == end and lane["pending"] == 0, (name, lane)
        self.checkpoints = {p.name: p.read_bytes() for p in self.spool.glob("checkpoint.*")}

    @rule(lose_checkpoints=st.booleans())
    def crash_and_recover(self, lose_checkpoints: bool) -> None:
        """The process dies; a new one starts on the same directory and replays the spool.
        ``lose_checkpoints``: the acknowledgements since the last ``acknowledge`` are lost
        (exported, never acknowledged), so those records come again."""
        self._crash(lose_checkpoints)

    @rule(children=st.lists(prices, max_size=3))
    def crash_inside_span(self, children: list[Decimal]) -> None:
        """The process dies inside a span: its seq was taken, its record is never written;
        the records made inside it are."""
        span = self.rec.span("unfinished").start()
        self._took(span.seq, None)
        run = self.rec.run_id
        self.inside[run] = []
        for price in children:
            seq = self.rec.record_fill(symbol="ETH-USDT", side="SELL", price=price, quantity=1)
            self._took(seq, Expected("fill", parent_seq=span.seq, price=price))
            self.inside[run].append(seq)
        self._crash(lose_checkpoints=False)
        span.suspend()  # a dead process leaves no current span behind

    def _crash(self, lose_checkpoints: bool) -> None:
        old = self.rec
        old._processor.halt()
        assert not any(lane._thread.is_alive() for lane in old._processor._lanes)
        self.check_errors(old)
        for exporter in old.exporters:  # its files and database as a dead process leaves them
            if isinstance(exporter, DuckDBExporter):
                exporter._pending, exporter._pending_rows = [], 0  # rows not inserted: lost
            exporter.shutdown(1)
        self.crashed.add(old.run_id)
        if lose_checkpoints and self.checkpoints:
            for path in self.spool.glob("checkpoint.*"):
                path.unlink()
            for name, content in self.checkpoints.items():
                (self.spool / name).write_bytes(content)
        self.rec = self._recorder()

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def seqs_are_one_to_n(self) -> None:
        """Every seq of a run was returned once, 1..n; one that is never written is the span
        a crashed run died inside, and everything after it was made inside it."""
        runs: dict[str, list[int]] = {run: [] for run in self.taken}
        for run, seq in self.expected:
            runs[run].append(seq)
        for run, seqs in runs.items():
            taken = list(range(1, self.taken[run] + 1))
            if run in self.unwritten:
                died_in = self.unwritten[run]
                assert run in self.crashed and died_in not in seqs, run
                assert taken[died_in:] == self.inside[run], (run, died_in, self.inside[run])
                seqs = [*seqs, died_in]
            assert sorted(seqs) == taken, run

    @invariant()
    def only_injected_failures(self) -> None:
        if hasattr(self, "rec"):
            self.check_errors(self.rec)

    def check_errors(self, rec: tt.Recorder) -> None:
        """No worker crashed, nothing was dropped: the only internal errors are injected."""
        health = rec.health()
        assert set(health["internal_errors"]) <= INJECTED, health["internal_errors"]
        assert health["dropped"] == 0, health
        assert all(lane["dropped"] == 0 for lane in health["exporters"].values()), health

    # --- reading the sinks ---------------------------------------------------------------

    def csv_rows(self) -> list[dict[str, str]]:
        rows = []
        for path in sorted((self.directory / "csv").glob(f"{SERVICE}_*.csv")):
            if "_runs" not in path.name:
                with open(path, newline="", encoding="utf-8") as file:
                    rows.extend(csv.DictReader(file))
        return rows

    def jsonl_objects(self) -> list[dict[str, Any]]:
        objects = []
        for path in sorted((self.directory / "json").glob(f"{SERVICE}_*.jsonl")):
            if "_runs" not in path.name:
                objects.extend(orjson.loads(line) for line in path.read_bytes().splitlines())
        return objects

    def duckdb_rows(self) -> list[tuple[Any, ...]]:
        connection = duckdb.connect(str(self.directory / "tradetrace.duckdb"))
        try:
            return connection.execute(
                "SELECT run_id, seq, kind, parent_seq, time_ns, observed_ns, price, updates_seq "
                "FROM records"
            ).fetchall()
        finally:
            connection.close()

    def quarantined(self) -> set[Key]:
        path = self.spool / "quarantine.flaky.jsonl"
        if not path.exists():
            return set()
        records = [decode(line) for line in path.read_bytes().splitlines()]
        return {(r.run_id, r.seq) for r in records}

    def check_sinks(self, flaky: bool) -> None:
        """Every returned seq is in CSV, JSON Lines and DuckDB exactly once, and (``flaky``)
        in the flaky exporter at least once, or set aside in its quarantine."""
        expected = set(self.expected)
        health = self.rec.health()
        context = f"; internal errors {health['internal_errors']}; lanes {health['exporters']}"
        for name, keys in (
            ("csv", [(r["run_id"], int(r["seq"])) for r in self.csv_rows()]),
            ("jsonl", [(o["run_id"], o["seq"]) for o in self.jsonl_objects()]),
            ("duckdb", [(row[0], row[1]) for row in self.duckdb_rows()]),
        ):
            counts = Counter(keys)
            repeated = {key: n for key, n in counts.items() if n > 1}
            assert not repeated, f"{name}: written twice: {sorted(repeated)[:5]}{context}"
            assert set(counts) == expected, (
                f"{name}: missing {sorted(expected - set(counts))[:5]}, "
                f"unexpected {sorted(set(counts) - expected)[:5]}{context}"
            )
        if flaky:
            got = {(s.run_id, s.seq) for s in self.sink}
            missing = expected - got - self.quarantined()
            assert not missing, f"flaky: missing {sorted(missing)[:5]}{context}"
            assert got <= expected, f"flaky: unexpected {sorted(got - expected)[:5]}"

    def check_records(self) -> None:
        """Fields as written: parent seqs, integer clocks, exact prices, lifecycle links."""
        for row in self.csv_rows():
            want = self.expected[(row["run_id"], int(row["seq"]))]
            assert row["kind"] == want.kind
            assert row["parent_seq"] == ("" if want.parent_seq is None else str(want.parent_seq))
            assert row["time_ns"].isdigit() and row["observed_ns"].isdigit(), row
            if want.price is not None:
                assert row["price"] == format(want.price, "f")
        for item in self.jsonl_objects():
            want = self.expected[(item["run_id"], item["seq"])]
            assert (item["kind"], item["parent_seq"]) == (want.kind, want.parent_seq)
            assert type(item["time_ns"]) is int and type(item["observed_ns"]) is int, item
            attributes = item["attributes"]
            if want.price is not None:
                assert attributes[sc.FILL_PRICE] == format(want.price, "f")
            assert attributes.get(sc.EVENT_UPDATES_SEQ) == want.updates_seq
        for run, seq, kind, parent, time_ns, observed_ns, price, updates in self.duckdb_rows():
            want = self.expected[(run, seq)]
            assert (kind, parent, updates) == (want.kind, want.parent_seq, want.updates_seq)
            assert type(time_ns) is int and type(observed_ns) is int
            if want.price is not None:
                assert price == want.price and isinstance(price, Decimal)
        for seen in self.sink:
            want = self.expected[(seen.run_id, seen.seq)]
            assert (seen.kind, seen.parent_seq) == (want.kind, want.parent_seq)
            if want.price is not None:
                assert seen.price == want.price and isinstance(seen.price, Decimal)
        for (run, seq), want in self.expected.items():
            if want.parent_seq is not None:
                assert want.parent_seq < seq
                assert (run, want.parent_seq) in self.expected or (
                    self.unwritten.get(run) == want.parent_seq
                )

    def check_report(self, report: Any) -> None:
        """``verify`` finds nothing wrong but the spans crashed runs died inside."""
        assert report.invalid_rows == 0, str(report)
        for run in report.runs:
            assert not (run.orphans or run.duplicates or run.unknown_updates), str(report)
            died_in = self.unwritten.get(run.run_id)
            unfinished = [(u.seq, list(u.children)) for u in run.unfinished]
            expected = [(died_in, self.inside[run.run_id])] if self.inside.get(run.run_id) else []
            assert unfinished == expected, str(report)
            for gap in run.gaps:
                assert gap.first == gap.last == died_in, str(report)

    def teardown(self) -> None:
        try:
            if not hasattr(self, "rec"):
                return
            self.switch.mode = "ok"
            result = self.rec.shutdown(15)
            assert result, result
            for rec in self.recorders:
                self.check_errors(rec)
            self.check_sinks(flaky=True)
            self.check_records()
            with open_source(self.directory, format="duckdb") as source:
                report = tt.verify(source)
                self.check_report(report)
                counts = dict(tt.query("SELECT run_id, count(*) FROM records GROUP BY 1", source)
                              .fetchall())  # fmt: skip
            written = Counter(run for run, _ in self.expected)
            assert counts == dict(written)
            assert not list(self.spool.glob("*.seg")), "a clean shutdown leaves no segment"
            EXAMPLES["runs"] += 1
            EXAMPLES["records"] += len(self.expected)
            EXAMPLES["crashes"] += len(self.crashed)
        finally:
            for rec in self.recorders:
                rec.shutdown(1)
            self._tmp.cleanup()


EXAMPLES = {"runs": 0, "records": 0, "crashes": 0}  # printed at the end

PipelineMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPipelineStateMachine = PipelineMachine.TestCase


@pytest.fixture(scope="module", autouse=True)
def _print_examples() -> Any:
    yield
    print(f"\npipeline state machine: {EXAMPLES}")


# --- minimal reproductions of what the machine found ---------------------------------------


def _crash(rec: tt.Recorder) -> None:
    """Stop as a killed process would, and close what it leaves open."""
    rec._processor.halt()
    for exporter in rec.exporters:
        exporter.shutdown(1)


def test_records_after_an_empty_spool_segment_are_recognised_when_replayed(
    tmp_path: Path,
) -> None:
    """A process that dies before recording leaves an empty spool segment (kept while a failing
    exporter holds older ones). When a later start replays from a checkpoint before it (a lost
    checkpoint write), the records after it must still go through ``recover``: CSV and JSON
    Lines wrote them twice."""
    switch, sink = Switch(), []

    def start() -> tt.Recorder:
        return tt.Recorder(
            service_name=SERVICE, exporters=("csv", "jsonl", FlakyExporter(switch, sink)),
            directory=tmp_path, durability="spool", handle_signals=False, schedule_delay=0.01,
        )  # fmt: skip

    spool = tmp_path / "spool" / SERVICE
    rec = start()
    assert rec.flush(5)
    saved = {path.name: path.read_bytes() for path in spool.glob("checkpoint.*")}
    switch.mode = "fail"  # the flaky exporter holds every segment from here on
    rec.record_event("DEPOSIT", amount="1")
    rec.flush(0.2)
    _crash(rec)
    _crash(start())  # dies at once: leaves an empty segment
    rec = start()
    rec.record_fill(symbol="BTC-USDT", side="BUY", price="1.5", quantity="2")
    rec.flush(0.2)
    _crash(rec)
    for path in spool.glob("checkpoint.*"):
        path.unlink()
    for name, content in saved.items():  # the acknowledgements since the start are lost
        (spool / name).write_bytes(content)
    switch.mode = "ok"
    rec = start()
    assert rec.shutdown(5)
    for folder, suffix in (("csv", ".csv"), ("json", ".jsonl")):
        for kind in ("events", "fills"):
            (path,) = (tmp_path / folder).glob(f"{SERVICE}_{kind}_*{suffix}")
            rows = path.read_bytes().splitlines()[1 if folder == "csv" else 0 :]
            assert len(rows) == 1, (path.name, rows)
