"""Benchmark: the OTLP exporter against the official OpenTelemetry SDK exporter.

Run from the repository root (``pip install -e '.[otlp]'``)::

    python benchmarks/otlp.py              # 51 200 records, best of 3 rounds
    python benchmarks/otlp.py --records 10240 --rounds 1

Both sides send OTLP/HTTP protobuf to the same local receiver on 127.0.0.1, which reads each
request and answers 200 without decoding it, in batches of 512, through the official
``requests`` transport with its retry client.

* tradetrace: ``OtlpExporter.export(batch)`` over records made by a real Recorder (a memory
  exporter kept them): per round of 8 records, a ``rebalance`` span, an instrumented
  ``spread_calculation`` decision (a span), a decision, an order, two fills, a risk check and a
  ledger event, with Decimal prices, nested inputs and snapshots. Timed: conversion to OTLP
  (spans and log records), the trading metrics fold, protobuf serialisation and the sends.
* official: ``OTLPSpanExporter.export(spans)`` (opentelemetry-exporter-otlp-proto-http) over
  the same number of ready-made SDK spans, built before the clock starts, with the same
  attributes (Decimals as strings, mappings as JSON: what OpenTelemetry attributes can hold).
  Timed: the SDK's encoding, serialisation and the sends.

Goal: tradetrace records/s divided by official spans/s >= 1.0.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import opentelemetry.sdk.version
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import tradetrace as tt
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.exporters.otlp import OtlpExporter
from tradetrace.exporters.otlp_convert import is_span
from tradetrace.exporters.rows import to_json
from tradetrace.records import Record

BATCH = 512
GOAL = 1.0


class _Discard(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_records(count: int) -> list[Record]:
    """``count`` records of a market-making loop, as a Recorder makes them."""
    memory = MemoryExporter()
    with tempfile.TemporaryDirectory() as directory:
        rec = tt.Recorder(service_name="bench", exporters=(memory,), directory=directory,
                          queue_size=count + 16, batch_size=4096)  # fmt: skip

        @tt.instrument("spread_calculation", kind="decision", recorder=rec)
        def spread(gamma: float, sigma: float, k: float) -> tuple[float, float]:
            return gamma * sigma, gamma * k

        for i in range(count // 8 + 1):
            price = Decimal("67500.123456789012345678") + i
            with rec.span("rebalance", symbol="BTC-USDT"):
                spread(0.1, 2.5, 1.5)
                rec.record_decision(
                    "quote",
                    inputs={"mid": price, "inventory": "0.01"},
                    result={"bid": price - 1, "ask": price + 1},
                    reason="skew",
                )
                rec.record_order(
                    "submit",
                    symbol="BTC-USDT",
                    side="BUY",
                    order_id=f"o-{i}",
                    price=price,
                    quantity="0.001",
                    order_type="LIMIT",
                )
                for _ in range(2):
                    rec.record_fill(
                        symbol="BTC-USDT",
                        side="BUY",
                        price=price,
                        quantity="0.0005",
                        fee="0.0125",
                        fee_currency="USDT",
                        order_id=f"o-{i}",
                        liquidity_side="MAKER",
                        inventory_after="0.01",
                        equity_after="10000.5",
                    )
                rec.record_risk_check("max_position", passed=True, limit="1", observed="0.01")
            rec.record_event("GAS_FEE_PAID", venue="ETHEREUM", token="ETH", amount="0.0021",
                             snapshot={"wallet": {"ETH": "1.5", "USDT": str(price)}})  # fmt: skip
        rec.shutdown(60)
    return sorted(memory.records, key=lambda r: r.seq)[:count]


def _otel_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        return to_json(value).decode()
    return value


def make_spans(records: Sequence[Record]) -> list[ReadableSpan]:
    """One ready-made SDK span per record, with the record's attributes."""
    kept: list[ReadableSpan] = []

    class Keep(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            kept.extend(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(SimpleSpanProcessor(Keep()))
    tracer = provider.get_tracer("bench")
    for record in records:
        attributes = {k: _otel_value(v) for k, v in record.attributes.items()}
        attributes["trading.seq"] = record.seq
        attributes["trading.run.id"] = record.run_id
        tracer.start_span(record.name, attributes=attributes).end()
    provider.shutdown()
    return kept


def _timed(send: Callable[[Sequence[Any]], Any], items: Sequence[Any]) -> float:
    start = time.perf_counter()
    for i in range(0, len(items), BATCH):
        send(items[i : i + BATCH])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=51_200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Discard)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    records = make_records(args.records)
    spans = make_spans(records)
    span_share = sum(map(is_span, records)) / len(records)
    ours = OtlpExporter(url, metrics_interval=3600)
    ours.open(tt.Recorder(service_name="bench", exporters=(), directory=tempfile.gettempdir()).run)
    official = OTLPSpanExporter(endpoint=f"{url}/v1/traces")

    def ours_send(batch: Sequence[Record]) -> None:
        assert ours.export(batch) is tt.ExportResult.SUCCESS

    def official_send(batch: Sequence[ReadableSpan]) -> None:
        assert official.export(batch) is SpanExportResult.SUCCESS

    _timed(ours_send, records[: 4 * BATCH])  # warm up both connections and caches
    _timed(official_send, spans[: 4 * BATCH])
    ours_times, official_times = [], []
    for _ in range(args.rounds):
        ours_times.append(_timed(ours_send, records))
        official_times.append(_timed(official_send, spans))
    ours_rate = len(records) / min(ours_times)
    official_rate = len(spans) / min(official_times)
    ratio = ours_rate / official_rate
    ours.shutdown(5)
    official.shutdown()
    server.shutdown()

    print(f"python {platform.python_version()}, opentelemetry-sdk "
          f"{opentelemetry.sdk.version.__version__}, tradetrace {tt.__version__}")  # fmt: skip
    print(f"{len(records)} records ({span_share:.0%} spans, the rest log records), "
          f"batches of {BATCH}, best of {args.rounds}, local receiver discarding")  # fmt: skip
    print(f"  tradetrace OtlpExporter   {ours_rate:>12,.0f} records/s")
    print(f"  official OTLPSpanExporter {official_rate:>12,.0f} spans/s (ready-made)")
    verdict = "PASS" if ratio >= GOAL else "MISS"
    print(f"  ratio {ratio:.2f} (goal >= {GOAL:.1f}) {verdict}")


if __name__ == "__main__":
    main()
