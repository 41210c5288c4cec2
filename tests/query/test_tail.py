"""``Tail``: the last records of a SOURCE, then exactly the records written after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_source import AVAILABLE

import tradetrace as tt
from tradetrace.query.tail import Tail

FOLLOWED = [f for f in ("jsonl", "csv", "parquet") if f in AVAILABLE]


def _recorder(directory: Path, exporters: tuple[str, ...]) -> tt.Recorder:
    return tt.Recorder(
        service_name="t", exporters=exporters, directory=directory,
        clock=tt.SimulatedClock("2024-05-12T10:00:00Z"), mode="live", schedule_delay=0.01,
    )  # fmt: skip


def _fills(recorder: tt.Recorder, count: int, start: int) -> list[int]:
    return [
        recorder.record_fill(symbol="BTC-USDT", side="BUY", price=str(100 + n), quantity="1")
        for n in range(start, start + count)
    ]


@pytest.mark.parametrize("format", FOLLOWED)
def test_tail_follows_a_live_recording(tmp_path: Path, format: str) -> None:
    recorder = _recorder(tmp_path, (format,))
    try:
        first = _fills(recorder, 5, 0)
        assert recorder.flush(10)
        tail = Tail(tmp_path, format)
        assert [r.seq for r in tail.last(3)] == first[-3:]
        assert tail.poll() == []
        more = _fills(recorder, 4, 5)
        with recorder.span("rebalance"):
            inside = recorder.record_decision("rebalance", reason="skew")
        assert recorder.flush(10)
        got = tail.poll()
        assert sorted(r.seq for r in got) == [*more, inside - 1, inside]  # with the span itself
        assert got[0].attributes[tt.semconv.FILL_PRICE] == 105
        assert tail.poll() == []
    finally:
        recorder.shutdown(10)


def test_a_line_still_being_written_waits_for_the_next_poll(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path, ("jsonl",))
    _fills(recorder, 2, 0)
    recorder.shutdown(10)
    tail = Tail(tmp_path / "json")
    assert len(tail.last(10)) == 2
    (path,) = (tmp_path / "json").glob("t_fills_*.jsonl")
    line = json.loads(path.read_text().splitlines()[-1])
    line["seq"] = 3
    text = json.dumps(line) + "\n"
    with open(path, "a", encoding="utf-8") as file:
        file.write(text[:40])
    assert tail.poll() == []
    with open(path, "a", encoding="utf-8") as file:
        file.write(text[40:])
    assert [r.seq for r in tail.poll()] == [3]


@pytest.mark.skipif("duckdb" not in AVAILABLE, reason="no 'duckdb' exporter registered yet")
def test_tail_follows_a_duckdb_file_written_in_this_process(tmp_path: Path) -> None:
    first = _recorder(tmp_path, ("duckdb",))
    _fills(first, 3, 0)
    first.shutdown(10)
    tail = Tail(tmp_path / "tradetrace.duckdb")
    assert [r.run_id for r in tail.last(5)] == [first.run_id] * 3
    second = _recorder(tmp_path, ("duckdb",))  # holds the file open for writing
    try:
        seqs = _fills(second, 2, 0)
        assert second.flush(10)
        got = tail.poll()
        assert [(r.run_id, r.seq) for r in got] == [(second.run_id, s) for s in seqs]
        assert tail.poll() == [] and tail.waiting is None
        more = _fills(second, 1, 2)
        assert second.flush(10)
        assert [r.seq for r in tail.poll()] == more
    finally:
        second.shutdown(10)
