"""Console and memory exporters."""

from __future__ import annotations

import io
from pathlib import Path

import tradetrace as tt
from tradetrace.exporters.console import ConsoleExporter
from tradetrace.exporters.memory import MemoryExporter


def test_console_prints_one_readable_line_per_record(tmp_path: Path) -> None:
    stream = io.StringIO()
    clock = tt.SimulatedClock("2024-05-12T14:00:00Z")
    rec = tt.Recorder(exporters=(ConsoleExporter(stream),), directory=tmp_path, clock=clock)
    with rec.span("rebalance"):
        rec.record_fill(symbol="BTC-USDT", side="BUY", price="67500.10", quantity="0.001")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        rec.record_error("strategy_error", exception=exc)
    assert rec.shutdown(5)
    lines = stream.getvalue().splitlines()
    assert lines[0] == (
        "#2 2024-05-12T14:00:00.000000000Z fill fill parent=#1 symbol=BTC-USDT side=BUY "
        "price=67500.10 size=0.001"
    )
    assert lines[1].startswith("#1 2024-05-12T14:00:00.000000000Z span rebalance [ok]")
    assert "stack_trace" not in lines[2] and "exception_message=boom" in lines[2]
    assert len(lines) == 3


def test_memory_keeps_records_and_runs(tmp_path: Path) -> None:
    memory = MemoryExporter()
    rec = tt.Recorder(exporters=(memory, "memory"), directory=tmp_path, run_id="r1")
    rec.record_decision("x")
    assert rec.shutdown(5)
    assert [e.name for e in rec.exporters] == ["memory", "memory-2"]
    assert [r.seq for r in memory.records] == [1] and memory.runs[0].run_id == "r1"
    memory.clear()
    assert memory.records == []
