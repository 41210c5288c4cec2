"""Processor: isolation of exporters, deadlines, overflow policies, fork safety."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

import tradetrace as tt
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.records import Record


class RaisingExporter(tt.BaseExporter):
    name = "raising"

    def __init__(self) -> None:
        self.calls = 0

    def export(self, batch: Sequence[Record]) -> tt.ExportResult:
        self.calls += 1
        raise OSError("disk on fire")


class SlowExporter(tt.BaseExporter):
    name = "slow"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.received = 0

    def export(self, batch: Sequence[Record]) -> tt.ExportResult:
        time.sleep(self.seconds)
        self.received += len(batch)
        return tt.ExportResult.SUCCESS


class GateExporter(tt.BaseExporter):
    """Blocks every export until the gate opens (to fill queues deterministically)."""

    name = "gate"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.received = 0

    def export(self, batch: Sequence[Record]) -> tt.ExportResult:
        self.gate.wait(30)
        self.received += len(batch)
        return tt.ExportResult.SUCCESS


def fill(rec: tt.Recorder, i: int = 0) -> int:
    return rec.record_fill(symbol="BTC-USDT", side="BUY", price=100 + i, quantity=1)


def test_failing_and_slow_exporters_never_delay_the_healthy_one(tmp_path: Path) -> None:
    raising, slow, healthy = RaisingExporter(), SlowExporter(2.0), MemoryExporter()
    rec = tt.Recorder(
        exporters=(raising, slow, healthy), directory=tmp_path, schedule_delay=0.01, batch_size=50
    )
    started = time.monotonic()
    for i in range(1_000):
        fill(rec, i)
    while len(healthy.records) < 1_000 and time.monotonic() - started < 1.0:
        time.sleep(0.005)
    on_time = time.monotonic() - started
    assert len(healthy.records) == 1_000, "healthy exporter was held up"
    print(f"healthy exporter had all 1000 records after {on_time * 1000:.0f} ms")

    t0 = time.monotonic()
    result = rec.flush(0.5)
    took = time.monotonic() - t0
    print(f"flush(0.5) returned after {took:.3f}s: {result}")
    assert 0.45 <= took < 0.8
    assert not result.ok and result.pending["slow"] > 0 and result.pending["memory"] == 0

    health = rec.health()
    assert health["exporters"]["raising"]["failed"] == 1_000
    assert health["exporters"]["memory"]["exported"] == 1_000
    assert health["internal_errors"]["exporter_export:raising"] == raising.calls
    t0 = time.monotonic()
    rec.shutdown(0.3)
    assert time.monotonic() - t0 < 0.6


def test_drop_newest_counts_exactly_what_it_dropped(tmp_path: Path) -> None:
    gate, memory = GateExporter(), MemoryExporter()
    rec = tt.Recorder(
        exporters=(gate, memory), directory=tmp_path, queue_size=100, batch_size=1_000,
        schedule_delay=60, overflow="drop_newest",
    )  # fmt: skip
    accepted = [fill(rec, i) for i in range(250)]  # the dispatcher sleeps: 100 fit, 150 drop
    health = rec.health()
    assert health["dropped"] == 150 and health["queue_depth"] == 100
    assert health["emitted"] == 250
    gate.gate.set()
    assert rec.flush(5)
    assert len(memory.records) == 100
    assert [r.seq for r in memory.records] == accepted[:100]
    rec.shutdown()


def test_block_policy_waits_up_to_its_bound_then_drops(tmp_path: Path) -> None:
    gate = GateExporter()
    rec = tt.Recorder(
        exporters=(gate,), directory=tmp_path, queue_size=10, batch_size=10,
        schedule_delay=60, block_timeout=0.2,
    )  # fmt: skip
    for i in range(10):
        fill(rec, i)
    t0 = time.monotonic()
    fill(rec)  # queue full, dispatcher woken: room appears once it hands the batch on
    assert time.monotonic() - t0 < 0.2
    assert rec.health()["dropped"] == 0
    gate.gate.set()
    assert rec.flush(5)
    rec.shutdown()


def test_block_policy_bound_is_honoured_when_the_dispatcher_stalls(tmp_path: Path) -> None:
    memory = MemoryExporter()
    rec = tt.Recorder(
        exporters=(memory,), directory=tmp_path, queue_size=5, batch_size=5,
        schedule_delay=60, block_timeout=0.1,
    )  # fmt: skip
    processor = rec._processor
    stall, drain = threading.Event(), processor._drain
    processor._drain = lambda: (stall.wait(10), drain())  # a dispatcher starved of CPU
    for i in range(5):
        fill(rec, i)
    t0 = time.monotonic()
    fill(rec)  # the queue is full and nothing drains: wait 0.1 s, then drop and count
    elapsed = time.monotonic() - t0
    print(f"blocked {elapsed * 1000:.0f} ms for a bound of 100 ms")
    assert 0.09 <= elapsed < 0.3
    assert rec.health()["dropped"] == 1
    stall.set()
    assert rec.flush(5)
    assert [r.seq for r in memory.records] == [1, 2, 3, 4, 5]
    rec.shutdown()


def test_shutdown_returns_by_its_deadline_with_a_stuck_exporter(tmp_path: Path) -> None:
    gate = GateExporter()
    rec = tt.Recorder(exporters=(gate,), directory=tmp_path, schedule_delay=0.01)
    fill(rec)
    time.sleep(0.05)
    t0 = time.monotonic()
    result = rec.shutdown(0.3)
    assert time.monotonic() - t0 < 0.6
    assert not result.ok and result.pending["gate"] == 1
    assert "pending per exporter: gate: 1" in str(result)
    fill(rec)  # after shutdown: counted, never raised
    assert rec.health()["dropped"] == 1
    gate.gate.set()


def test_exporter_without_optional_methods_works(tmp_path: Path) -> None:
    class Minimal:
        name = "minimal"

        def __init__(self) -> None:
            self.seqs: list[int] = []

        def export(self, batch: Sequence[Record]) -> tt.ExportResult:
            self.seqs.extend(r.seq for r in batch)
            return tt.ExportResult.SUCCESS

    minimal = Minimal()
    rec = tt.Recorder(exporters=(minimal,), directory=tmp_path)
    fill(rec)
    assert rec.shutdown(5)
    assert minimal.seqs == [1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_forked_child_exports_only_its_own_records(tmp_path: Path) -> None:
    rec = tt.Recorder(
        service_name="fork", exporters=("jsonl",), directory=tmp_path, schedule_delay=30
    )
    parent_seqs = [fill(rec, i) for i in range(1_000)]  # queued: the dispatcher sleeps 30 s
    assert rec.health()["queue_depth"] == 1_000
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            for i in range(3):
                fill(rec, i)
            code = 0 if rec.shutdown(5) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert rec.shutdown(10)
    lines = [
        json.loads(line)
        for path in (tmp_path / "json").glob("fork_fills_*.jsonl")
        for line in path.read_text().splitlines()
    ]
    by_run: dict[str, list[int]] = {}
    for line in lines:
        by_run.setdefault(line["run_id"], []).append(line["seq"])
    parent_run = rec.run_id
    child_runs = [run for run in by_run if run != parent_run]
    assert sorted(by_run[parent_run]) == parent_seqs  # exactly once: the child re-sent none
    assert len(child_runs) == 1 and child_runs[0].startswith(parent_run + "-fork")
    assert sorted(by_run[child_runs[0]]) == [1, 2, 3]
    print(f"parent wrote {len(by_run[parent_run])} records, child wrote its own 3")
