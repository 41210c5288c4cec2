"""The OTLP exporter over gRPC (``protocol="grpc"``) against a real gRPC collector service."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import pytest

grpc = pytest.importorskip("grpc", reason="protocol='grpc' needs tradetrace[grpc]")
pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc", reason="needs tradetrace[grpc]")

from otlp_receiver import OtlpGrpcReceiver, attributes  # noqa: E402

import tradetrace as tt  # noqa: E402
from tradetrace import semconv as sc  # noqa: E402
from tradetrace.exporters.otlp import OtlpExporter  # noqa: E402
from tradetrace.records import Record  # noqa: E402


def _fill(seq: int) -> Record:
    return Record(seq, "run", "fill", "fill", 1_000, None, None, None, None, None, None, None,
                  "INFO", None, {sc.FILL_PRICE: "1.5"})  # fmt: skip


def test_spans_logs_and_metrics_over_grpc(tmp_path: Path) -> None:
    with OtlpGrpcReceiver() as receiver:
        exporter = OtlpExporter(receiver.endpoint, protocol="grpc", timeout=5)
        assert exporter.protocols == {"traces": "grpc", "logs": "grpc", "metrics": "grpc"}
        rec = tt.Recorder(service_name="g", exporters=(exporter,), directory=tmp_path,
                          schedule_delay=0.01)  # fmt: skip
        with rec.span("rebalance"):
            rec.record_fill(symbol="BTC-USDT", side="BUY", price="67500.123456789012345678",
                            quantity="0.001")  # fmt: skip
            rec.record_decision("hold", reason="flat")
        assert rec.shutdown(10)
        (_, span), = receiver.received.spans()  # fmt: skip
        logs = [log for _, log in receiver.received.logs()]
        assert span.name == "rebalance" and len(logs) == 2
        assert all(log.span_id == span.span_id for log in logs)
        fill = attributes(logs[0].attributes)
        assert fill[sc.FILL_PRICE] == "67500.123456789012345678"
        assert sorted(receiver.received.seqs()) == [1, 2, 3]
        assert "trading.fills" in receiver.received.metrics()
        counters = exporter.counters()["signals"]
        assert counters["traces"]["status_codes"] == {"OK": 1}
        assert counters["logs"]["exported"] == 2


def test_unavailable_is_retried_and_delivered_once() -> None:
    with OtlpGrpcReceiver(fail=[grpc.StatusCode.UNAVAILABLE]) as receiver:
        exporter = OtlpExporter(receiver.endpoint, protocol="grpc", metrics=False, timeout=10)
        assert exporter.export([_fill(1)]) is tt.ExportResult.SUCCESS
        assert [r.status for r in receiver.received.requests] == [503, 200]
        assert receiver.received.seqs() == [1]
        logs = exporter.counters()["signals"]["logs"]
        assert logs["status_codes"] == {"UNAVAILABLE": 1, "OK": 1} and logs["retries"] == 1
        exporter.shutdown(2)


def test_invalid_argument_is_not_retried() -> None:
    with OtlpGrpcReceiver(fail=[grpc.StatusCode.INVALID_ARGUMENT]) as receiver:
        exporter = OtlpExporter(receiver.endpoint, protocol="grpc", metrics=False, timeout=10)
        assert exporter.export([_fill(1)]) is tt.ExportResult.FAILURE
        assert len(receiver.received.requests) == 1
        assert exporter.counters()["signals"]["logs"]["failed"] == 1
        exporter.shutdown(2)


def test_shutdown_returns_by_its_deadline_while_grpc_retries_a_dead_endpoint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exporter = OtlpExporter(f"http://127.0.0.1:{port}", protocol="grpc", metrics=False,
                            timeout=10)  # fmt: skip
    results: list[tuple[tt.ExportResult, float]] = []
    start = time.monotonic()
    worker = threading.Thread(
        target=lambda: results.append((exporter.export([_fill(1)]), time.monotonic() - start))
    )
    worker.start()
    time.sleep(1.5)  # refused, retrying with backoff
    with caplog.at_level(logging.WARNING, logger="tradetrace.otlp"):
        begun = time.monotonic()
        exporter.shutdown(0.5)
        assert time.monotonic() - begun < 0.9
    assert "shutdown deadline reached" in caplog.text
    worker.join(10)
    (result, took), = results  # fmt: skip
    assert result is tt.ExportResult.FAILURE and took < 4  # the retry wait was interrupted
    logs = exporter.counters()["signals"]["logs"]
    assert logs["failed"] == 1 and logs["status_codes"]["UNAVAILABLE"] >= 1
