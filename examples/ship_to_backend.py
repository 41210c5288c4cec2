"""Ship fills, decisions, risk checks and spans to an OpenTelemetry backend over OTLP.

Run: ``python examples/ship_to_backend.py [OUTPUT_DIR]``

No network needed: the script starts a small OTLP/HTTP receiver on 127.0.0.1 standing in for
the backend, ships a few trading records to it, prints what arrived (decoded with
opentelemetry-proto, as a Collector would) and writes it to ``OUTPUT_DIR/received.json`` beside
the JSON Lines files of the same run. Needs ``pip install 'tradetrace[otlp]'``.

Pointing it at a real backend is configuration only, by arguments or by the standard
environment variables (arguments win)::

    # OpenTelemetry Collector, Jaeger (v1.35+) or Grafana Tempo, OTLP/HTTP on port 4318
    OtlpExporter("http://localhost:4318")
    # ... or OTLP/gRPC on port 4317
    OtlpExporter("http://localhost:4317", protocol="grpc")

    # Honeycomb: the API key travels as a header
    OtlpExporter("https://api.honeycomb.io", headers={"x-honeycomb-team": "YOUR_API_KEY"})

    # Grafana Cloud: basic auth of instance id and token, base64("ID:TOKEN")
    OtlpExporter("https://otlp-gateway-prod-eu-west-2.grafana.net/otlp",
                 headers={"Authorization": "Basic " + base64.b64encode(b"ID:TOKEN").decode()})

    # the same without code, with exporters=("otlp",) in tt.configure:
    #   OTEL_EXPORTER_OTLP_ENDPOINT=https://api.honeycomb.io
    #   OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=YOUR_API_KEY
    #   OTEL_EXPORTER_OTLP_PROTOCOL=grpc        (default http/protobuf)
    #   OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=prod,team=mm-desk

How it looks there: each ``with tt.span(...)`` and each instrumented call is a span (Jaeger's
timeline, Tempo's trace view); fills, decisions, risk checks, errors and ledger events are log
records *inside* that span (Jaeger shows them as span logs when the backend joins logs to
traces; Honeycomb as span events of the trace; Grafana links Loki/Tempo by trace id), with
``event_name`` ``trading.fill``, ``trading.decision``, ... Every field is a searchable attribute
under its semantic-convention name: ``trading.symbol = BTC-USDT``,
``trading.fill.price = "67500.123456789012345678"`` (a string: exact digits, no float
rounding), ``trading.seq``, ``trading.run.id``. The resource carries ``service.name``,
``trading.mode``, ``deployment.environment.name``, so a query such as
``service.name = "avellaneda" AND trading.order.side = "SELL"`` works across runs. Metrics
(``trading.fills``, ``trading.fill.notional``, ``trading.fees``,
``trading.order.round_trip.duration``, ``trading.position.inventory``, ...) go to the
backend's metrics store.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import tradetrace as tt
from tradetrace.exporters.otlp import OtlpExporter

MESSAGES = {
    "/v1/traces": ExportTraceServiceRequest,
    "/v1/logs": ExportLogsServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
}


class Backend:
    """A stand-in backend: an OTLP/HTTP receiver on 127.0.0.1 keeping what it decodes."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                message = MESSAGES[self.path].FromString(body)
                backend.received.append((self.path, message))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def trade(rec: tt.Recorder) -> None:
    """A few seconds of a market maker, compressed."""

    @tt.instrument("spread_calculation", kind="decision", recorder=rec)
    def calculate_spread(gamma: float, sigma: float) -> tuple[float, float]:
        return round(gamma * sigma, 6), round(gamma * sigma * 1.2, 6)

    with rec.span("quote_cycle", symbol="BTC-USDT"):
        calculate_spread(0.1, 2.5)
        rec.record_risk_check("max_inventory", passed=True, limit="0.05", observed="0.001")
        rec.record_order(
            "submit",
            symbol="BTC-USDT",
            side="BUY",
            order_id="o-1",
            price=Decimal("67500.123456789012345678"),
            quantity="0.001",
        )
        rec.record_fill(symbol="BTC-USDT", side="BUY", price=Decimal("67500.123456789012345678"),
                        quantity="0.001", fee="0.0135", fee_currency="USDT", order_id="o-1",
                        inventory_after="0.001", equity_after="10000.25")  # fmt: skip
    rec.record_error("api_error", message="rate limited", severity="WARNING",
                     recovery_action="backoff 1s")  # fmt: skip


def show(backend: Backend) -> list[dict[str, Any]]:
    """Print what the backend decoded; return it as JSON-able dicts."""
    dumped = []
    for path, message in backend.received:
        dumped.append({"path": path, "request": MessageToDict(message)})
        for resource in getattr(message, "resource_spans", ()):
            for scope in resource.scope_spans:
                for span in scope.spans:
                    parent = span.parent_span_id.hex() or "-"
                    print(f"span  {span.name:<20} id={span.span_id.hex()} parent={parent}")
        for resource in getattr(message, "resource_logs", ()):
            for scope in resource.scope_logs:
                for log in scope.log_records:
                    print(f"log   {log.event_name:<20} in span {log.span_id.hex() or '-':<16} "
                          f"{log.severity_text:<8} {log.body.string_value}")  # fmt: skip
        for resource in getattr(message, "resource_metrics", ()):
            names = [m.name for scope in resource.scope_metrics for m in scope.metrics]
            print(f"metrics {', '.join(n for n in names if n.startswith('trading.'))}")
    return dumped


def main(directory: str) -> None:
    backend = Backend()
    otlp = OtlpExporter(backend.url, resource_attributes={"team": "mm-desk"})
    rec = tt.Recorder(service_name="avellaneda", exporters=(otlp, "jsonl"), directory=directory,
                      environment="paper")  # fmt: skip
    otlp.pipeline_counters = rec.health  # the pipeline's own counters, as metrics too
    trade(rec)
    rec.shutdown(10)  # sends the last batch and the metrics
    dumped = show(backend)
    fills = otlp.metrics()["fills"]["BTC-USDT"]["BUY"]
    print(f"notional {fills['notional']} USDT, fees {fills['fees']['USDT']} USDT (exact)")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / "received.json").write_text(json.dumps(dumped, indent=2))
    print(f"decoded requests in {out / 'received.json'}; JSON Lines under {out / 'json'}")
    backend.server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="tradetrace-"))
