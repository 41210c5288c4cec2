"""OTLP delivery when the backend misbehaves: retries, Retry-After, refusals, silence, outages.

The official exporter's retry policy applies (backoff 1 s, 2 s, ... ±20 %), so these tests take
a few seconds each; every wait is bounded.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from otlp_receiver import OtlpHttpReceiver

import tradetrace as tt
from tradetrace.exporters.otlp import OtlpExporter
from tradetrace.records import Record


def _fill(seq: int) -> Record:
    attributes = {"trading.symbol": "BTC-USDT", "trading.order.side": "BUY"}
    return Record(seq, "run", "fill", "fill", 1_000 + seq, None, None, None, None, None, None,
                  None, "INFO", None, attributes)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _recorder(exporter: OtlpExporter, tmp_path: Path, **settings: object) -> tt.Recorder:
    settings.setdefault("schedule_delay", 0.01)
    return tt.Recorder(service_name="d", exporters=(exporter,), directory=tmp_path, **settings)


def _fills(rec: tt.Recorder, count: int) -> None:
    for _ in range(count):
        rec.record_fill(symbol="BTC-USDT", side="BUY", price="1.5", quantity="2")


@pytest.fixture
def hanging() -> Iterator[OtlpHttpReceiver]:
    with OtlpHttpReceiver(hang=True) as server:
        yield server


def test_503_twice_then_200_is_delivered_exactly_once(tmp_path: Path) -> None:
    with OtlpHttpReceiver(script=[503, 503]) as receiver:
        exporter = OtlpExporter(receiver.url, metrics=False, timeout=10)
        rec = _recorder(exporter, tmp_path)
        _fills(rec, 3)
        assert rec.flush(15)
        assert receiver.received.seqs() == [1, 2, 3]  # once each: no duplicate
        assert [r.status for r in receiver.received.requests] == [503, 503, 200]
        logs = exporter.counters()["signals"]["logs"]
        assert logs["retries"] == 2 and logs["exported"] == 3 and logs["failed"] == 0
        assert logs["status_codes"] == {"503": 2, "200": 1}
        assert rec.health()["exporters"]["otlp"]["exported"] == 3
        rec.shutdown(5)


def test_429_with_retry_after_is_honoured() -> None:
    script = [(429, {"Retry-After": "1"}), (429, {"Retry-After": "1"})]
    with OtlpHttpReceiver(script=script) as receiver:
        exporter = OtlpExporter(receiver.url, metrics=False, timeout=10)
        assert exporter.export([_fill(1)]) is tt.ExportResult.SUCCESS
        arrivals = [r.at for r in receiver.received.requests]
        gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
        # the backoff alone would wait ~1 s then ~2 s (1.6-2.4 s): Retry-After says 1 s both times
        assert len(gaps) == 2 and all(0.95 <= gap < 1.5 for gap in gaps), gaps
        assert exporter.counters()["signals"]["logs"]["retry_after"] == 2
        assert receiver.received.seqs() == [1]
        exporter.shutdown(2)


@pytest.mark.parametrize("status", [400, 413])
def test_400_and_413_are_not_retried_and_are_counted(status: int, tmp_path: Path) -> None:
    with OtlpHttpReceiver(script=[status]) as receiver:
        exporter = OtlpExporter(receiver.url, metrics=False, timeout=10)
        rec = _recorder(exporter, tmp_path)
        _fills(rec, 4)
        assert not rec.flush(5)  # the flush reports the failed batch
        assert [r.status for r in receiver.received.requests] == [status]
        assert rec.health()["exporters"]["otlp"]["failed"] == 4
        logs = exporter.counters()["signals"]["logs"]
        assert logs["attempts"] == 1 and logs["failed"] == 4 and logs["retries"] == 0
        assert logs["last_error"].startswith(f"HTTP {status}")
        _fills(rec, 1)  # the next batch goes through
        assert rec.flush(5)
        assert receiver.received.seqs() == [5]
        rec.shutdown(5)


def test_a_silent_backend_costs_the_caller_nothing_and_the_deadline_holds(
    hanging: OtlpHttpReceiver, tmp_path: Path
) -> None:
    exporter = OtlpExporter(hanging.url, metrics=False, timeout=1.0)
    rec = _recorder(exporter, tmp_path, schedule_delay=0.2)
    rec.record_fill(symbol="BTC-USDT", side="BUY", price="1", quantity="1")
    assert hanging.received.wait_for(lambda _: True, 0) is True
    deadline = time.monotonic() + 5
    while not exporter.counters()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert exporter.counters()["in_flight"] == 1  # the exporter is stuck on the silent backend
    costs = []
    for _ in range(3000):
        start = time.perf_counter_ns()
        rec.record_fill(symbol="BTC-USDT", side="BUY", price="67500.5", quantity="0.001")
        costs.append(time.perf_counter_ns() - start)
    costs.sort()
    p99 = costs[int(len(costs) * 0.99)]
    assert p99 < 1_000_000, f"p99 of record_fill while the exporter is stuck: {p99} ns"
    start = time.monotonic()
    while rec.health()["exporters"]["otlp"]["failed"] == 0 and time.monotonic() < start + 5:
        time.sleep(0.01)
    assert rec.health()["exporters"]["otlp"]["failed"] >= 1  # the per-export deadline held
    start = time.monotonic()
    result = rec.shutdown(1.0)
    assert time.monotonic() - start < 1.6
    assert not result and sum(result.pending.values()) + result.queued > 0


def test_exporter_shutdown_returns_by_its_deadline_while_an_export_is_stuck(
    hanging: OtlpHttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = OtlpExporter(hanging.url, metrics=False, timeout=2.5)
    results: list[tt.ExportResult] = []
    worker = threading.Thread(target=lambda: results.append(exporter.export([_fill(1)])))
    worker.start()
    deadline = time.monotonic() + 5
    while not exporter.counters()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.01)
    with caplog.at_level(logging.WARNING, logger="tradetrace.otlp"):
        start = time.monotonic()
        exporter.shutdown(0.5)
        assert time.monotonic() - start < 0.9
    assert "not delivered" in caplog.text and "in flight: 1" in caplog.text
    worker.join(10)
    assert results == [tt.ExportResult.FAILURE]
    assert exporter.export([_fill(2)]) is tt.ExportResult.FAILURE  # after shutdown: counted
    assert exporter.counters()["signals"]["logs"]["failed"] == 2


def test_backend_down_at_start_and_up_within_the_retry_budget_gets_everything(
    tmp_path: Path,
) -> None:
    port = _free_port()
    exporter = OtlpExporter(f"http://127.0.0.1:{port}", metrics=False, timeout=10)
    rec = _recorder(exporter, tmp_path)
    _fills(rec, 5)
    time.sleep(1.5)  # the first attempts are refused
    with OtlpHttpReceiver(port) as receiver:
        assert rec.flush(15)
        assert sorted(receiver.received.seqs()) == [1, 2, 3, 4, 5]
    logs = exporter.counters()["signals"]["logs"]
    assert logs["connection_errors"] >= 1 and logs["failed"] == 0
    rec.shutdown(2)


def test_backend_down_past_the_retry_budget_counts_the_batch_as_failed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port()
    exporter = OtlpExporter(f"http://127.0.0.1:{port}", metrics=False, timeout=1.0)
    rec = _recorder(exporter, tmp_path)
    _fills(rec, 3)
    assert not rec.flush(5)
    assert rec.health()["exporters"]["otlp"]["failed"] == 3
    with OtlpHttpReceiver(port) as receiver:
        _fills(rec, 2)
        assert rec.flush(5)
        assert sorted(receiver.received.seqs()) == [4, 5]  # what failed is not replayed
        with caplog.at_level(logging.WARNING, logger="tradetrace.otlp"):
            rec.shutdown(5)
    assert exporter.counters()["undelivered"] == 3
    assert "not delivered" in caplog.text and "logs: 3" in caplog.text
