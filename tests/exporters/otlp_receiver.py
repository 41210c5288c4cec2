"""Real OTLP receivers for tests: an OTLP/HTTP server and a gRPC server on 127.0.0.1.

Both decode what arrives with opentelemetry-proto's collector messages
(``Export{Trace,Logs,Metrics}ServiceRequest``) and keep every request with the answer given.
The HTTP receiver can be scripted: answer the next requests with given status codes and
headers (``script``), never answer (``hang``), or answer 200 without decoding (``decode=False``).
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

REQUESTS = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}
RESPONSES = {
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "logs": logs_service_pb2.ExportLogsServiceResponse,
    "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
}


def value(any_value: Any) -> Any:
    """An OTLP ``AnyValue`` as a Python value."""
    which = any_value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [value(v) for v in any_value.array_value.values]
    if which == "kvlist_value":
        return attributes(any_value.kvlist_value.values)
    return getattr(any_value, which)


def attributes(key_values: Iterable[Any]) -> dict[str, Any]:
    """Repeated ``KeyValue`` as a dict."""
    return {kv.key: value(kv.value) for kv in key_values}


@dataclass
class Request:
    """One request as received: signal, answer, arrival time and the decoded message."""

    signal: str
    status: int
    at: float
    message: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Received:
    """What a receiver kept, with accessors over the decoded messages."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    def add(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)

    def accepted(self, signal: str) -> list[Any]:
        """Decoded messages of ``signal`` answered with success."""
        with self.lock:
            return [r.message for r in self.requests if r.signal == signal and r.status == 200]

    def count(self, signal: str | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.requests if signal is None or r.signal == signal)

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """``(resource attributes, Span)`` of every accepted span."""
        return [
            (attributes(rs.resource.attributes), span)
            for message in self.accepted("traces")
            for rs in message.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]

    def logs(self) -> list[tuple[dict[str, Any], Any]]:
        """``(resource attributes, LogRecord)`` of every accepted log record."""
        return [
            (attributes(rl.resource.attributes), log)
            for message in self.accepted("logs")
            for rl in message.resource_logs
            for sl in rl.scope_logs
            for log in sl.log_records
        ]

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name -> every accepted ``Metric`` message with that name, in arrival order."""
        found: dict[str, list[Any]] = {}
        for message in self.accepted("metrics"):
            for rm in message.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        found.setdefault(metric.name, []).append(metric)
        return found

    def seqs(self) -> list[int]:
        """``trading.seq`` of every accepted span and log record (duplicates kept)."""
        items = [span for _, span in self.spans()] + [log for _, log in self.logs()]
        return [attributes(item.attributes)["trading.seq"] for item in items]

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.01)
        return predicate(self)


def _signal(path: str) -> str | None:
    for signal in REQUESTS:
        if path.rstrip("/").endswith(f"/v1/{signal}"):
            return signal
    return None


class OtlpHttpReceiver:
    """An OTLP/HTTP receiver on 127.0.0.1 (``port=0``: a free port)."""

    def __init__(
        self,
        port: int = 0,
        *,
        script: Iterable[int | tuple[int, dict[str, str]]] = (),
        hang: bool = False,
        decode: bool = True,
    ) -> None:
        self.received = Received()
        self.script: deque[tuple[int, dict[str, str]]] = deque(
            item if isinstance(item, tuple) else (item, {}) for item in script
        )
        self.hang = hang
        self.decode = decode
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpHttpReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OtlpHttpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self) -> tuple[int, dict[str, str]]:
        with self.received.lock:
            return self.script.popleft() if self.script else (200, {})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.hang:
                    receiver._release.wait(60)
                    return
                signal = _signal(self.path)
                if not receiver.decode:
                    self._reply(200, {}, b"")
                    return
                if signal is None:
                    self._reply(404, {}, b"")
                    return
                status, headers = receiver._answer()
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                message = REQUESTS[signal].FromString(body)
                receiver.received.add(
                    Request(signal, status, time.monotonic(), message, dict(self.headers))
                )
                payload = RESPONSES[signal]().SerializeToString() if status == 200 else b""
                self._reply(status, headers, payload)

            def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                for key, header in headers.items():
                    self.send_header(key, header)
                self.end_headers()
                self.wfile.write(payload)

        return Handler


class OtlpGrpcReceiver:
    """An OTLP/gRPC receiver on 127.0.0.1: TraceService, LogsService and MetricsService.

    ``fail`` is a list of gRPC status codes to answer the next calls with, in order.
    """

    def __init__(self, fail: Iterable[Any] = ()) -> None:
        import grpc  # only here: the HTTP receiver needs no grpcio
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

        self.received = Received()
        self.fail: deque[Any] = deque(fail)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        receiver = self

        def handle(signal: str, request: Any, context: Any) -> Any:
            with receiver.received.lock:
                code = receiver.fail.popleft() if receiver.fail else None
            status = 200 if code is None else 503
            receiver.received.add(Request(signal, status, time.monotonic(), request))
            if code is not None:
                context.abort(code, "scripted failure")
            return RESPONSES[signal]()

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                return handle("traces", request, context)

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                return handle("logs", request, context)

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                return handle("metrics", request, context)

        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), self._server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), self._server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OtlpGrpcReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)
