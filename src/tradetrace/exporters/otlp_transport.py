"""Delivery of ready-made OTLP requests through the official OpenTelemetry exporters.

HTTP/protobuf (``opentelemetry-exporter-otlp-proto-http`` 1.45): the official
``OTLPSpanExporter``, ``OTLPLogExporter`` and ``OTLPMetricExporter`` resolve the endpoint,
headers, timeout, compression and TLS files from their arguments and the standard environment
variables (``OTEL_EXPORTER_OTLP_*`` and the per-signal ``OTEL_EXPORTER_OTLP_{TRACES,LOGS,
METRICS}_*``), and their client sends with the OTLP retry policy: 429, 502, 503, 504 and
connection failures are retried with exponential backoff (1 s, 2 s, 4 s, ... ±20 % jitter, at
most 6 attempts) honouring ``Retry-After`` (seconds or HTTP date), all within the per-export
timeout; anything else (400, 413, ...) fails at once. What it lacks, tradetrace adds through
the ``requests`` session the official transport sends with (:class:`CountingSession`): counters
per attempt (status codes, connection errors, ``Retry-After`` seen), OTLP partial-success
rejections read from the response, and an abort switch with a deadline, so that a shutdown
returns by its deadline while the backend is down (requests are cut to the deadline, then
refused, and the official backoff wait is interrupted by the official ``shutdown()``).

gRPC (``opentelemetry-exporter-otlp-proto-grpc``): the official exporters, whose retry policy
(UNAVAILABLE, RESOURCE_EXHAUSTED, ... with backoff and ``RetryInfo``) and deadline apply, are
given the ready-made request (``_translate_data`` passes it through) and a counting stub.

The requests are built by :mod:`tradetrace.exporters.otlp_convert`; this module only sends.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.metrics.export import MetricExportResult

Signal = Literal["traces", "logs", "metrics"]
Protocol = Literal["http/protobuf", "grpc"]

_RESPONSES: dict[str, Any] = {
    "traces": (ExportTraceServiceResponse, "rejected_spans"),
    "logs": (ExportLogsServiceResponse, "rejected_log_records"),
    "metrics": (ExportMetricsServiceResponse, "rejected_data_points"),
}
_NEEDS = (
    "tradetrace's otlp exporter needs opentelemetry-exporter-otlp-proto-http>=1.45 "
    "(pip install 'tradetrace[otlp]')"
)


class ExportAborted(Exception):
    """The exporter is shutting down and its deadline has passed: the request is not sent.

    Deliberately not a connection error, so the official client does not retry it.
    """


class SignalStats:
    """Delivery counters of one signal (traces, logs or metrics)."""

    def __init__(self, signal: str) -> None:
        self.signal = signal
        self.exported = 0  # spans, log records or data points delivered
        self.failed = 0  # ... not delivered
        self.rejected = 0  # ... delivered but refused by the backend (OTLP partial success)
        self.requests = 0  # export requests
        self.attempts = 0  # HTTP requests / RPCs, retries included
        self.connection_errors = 0
        self.retry_after = 0  # retryable answers that carried Retry-After
        self.status_codes: Counter[str] = Counter()
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def attempt(self) -> None:
        with self._lock:
            self.attempts += 1

    def answer(self, code: int | str, retry_after: bool = False) -> None:
        with self._lock:
            self.status_codes[str(code)] += 1
            self.retry_after += retry_after

    def connection_error(self, error: BaseException) -> None:
        with self._lock:
            self.connection_errors += 1
            self.last_error = f"{type(error).__name__}: {error}"

    def outcome(self, ok: bool, count: int, error: str | None = None) -> None:
        with self._lock:
            self.requests += 1
            if ok:
                self.exported += count
            else:
                self.failed += count
                if error:
                    self.last_error = error

    def reject(self, count: int, message: str) -> None:
        with self._lock:
            self.rejected += count
            if message:
                self.last_error = f"partial success: {message}"

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "exported": self.exported,
                "failed": self.failed,
                "rejected": self.rejected,
                "requests": self.requests,
                "attempts": self.attempts,
                "retries": max(0, self.attempts - self.requests),
                "connection_errors": self.connection_errors,
                "retry_after": self.retry_after,
                "status_codes": dict(self.status_codes),
                "last_error": self.last_error,
            }


class Deadline:
    """An abort switch with an optional deadline, shared by a sender and its session/stub."""

    def __init__(self) -> None:
        self.at: float | None = None  # time.monotonic() value
        self.aborted = False

    def remaining(self, timeout: float | None) -> float | None:
        """``timeout`` cut to the deadline; raises :class:`ExportAborted` past it."""
        if self.aborted:
            raise ExportAborted("the exporter was shut down")
        if self.at is None:
            return timeout
        left = self.at - time.monotonic()
        if left <= 0:
            raise ExportAborted("the shutdown deadline has passed")
        return left if timeout is None else min(timeout, left)


def _partial_success(stats: SignalStats, content: bytes) -> None:
    response_type, field = _RESPONSES[stats.signal]
    try:
        partial = response_type.FromString(content).partial_success
    except Exception:  # not a protobuf answer (some proxies answer text): nothing to read
        return
    rejected = getattr(partial, field)
    if rejected or partial.error_message:
        stats.reject(rejected, partial.error_message)


# --- HTTP ---------------------------------------------------------------------------------


def _session_class() -> type:
    import requests

    class CountingSession(requests.Session):
        """The session the official HTTP transport sends with: counts every attempt, reads
        partial success, cuts requests to the shutdown deadline (see the module docstring)."""

        def __init__(self, stats: SignalStats, deadline: Deadline) -> None:
            super().__init__()
            self.stats = stats
            self.deadline = deadline

        def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs["timeout"] = self.deadline.remaining(kwargs.get("timeout"))
            self.stats.attempt()
            try:
                response = super().request(method, url, *args, **kwargs)
            except requests.RequestException as error:
                self.stats.connection_error(error)
                raise
            code = response.status_code
            self.stats.answer(code, code in (429, 503) and "retry-after" in response.headers)
            if 200 <= code < 300 and response.content:
                _partial_success(self.stats, response.content)
            return response

    return CountingSession


def _http_exporter_class(signal: Signal) -> type:
    try:
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter
        if signal == "logs":
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

            return OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter
    except ImportError as exc:
        raise ImportError(_NEEDS) from exc


def _http_compression(value: str | None) -> Any:
    if value is None:
        return None
    from opentelemetry.exporter.otlp.proto.http import Compression

    return Compression(value.strip().lower())


def _http_arguments(signal: Signal, settings: Mapping[str, Any], session: Any) -> dict[str, Any]:
    base = settings.get("endpoint")
    if base:  # a base URL; one that already names a signal path is taken as its base
        base = base.rstrip("/")
        for path in ("/v1/traces", "/v1/logs", "/v1/metrics"):
            base = base.removesuffix(path)
    return {
        "endpoint": f"{base}/v1/{signal}" if base else None,
        "headers": settings.get("headers"),
        "timeout": settings.get("timeout"),
        "compression": _http_compression(settings.get("compression")),
        "session": session,
    }


# --- gRPC ---------------------------------------------------------------------------------


class _CountingStub:
    """Wraps the official exporter's gRPC stub: counts every RPC, honours the deadline."""

    def __init__(self, stub: Any, stats: SignalStats, deadline: Deadline) -> None:
        self._stub = stub
        self._stats = stats
        self._deadline = deadline

    def Export(self, request: Any, metadata: Any = None, timeout: Any = None) -> Any:
        import grpc

        timeout = self._deadline.remaining(timeout)
        self._stats.attempt()
        try:
            response = self._stub.Export(request=request, metadata=metadata, timeout=timeout)
        except grpc.RpcError as error:
            code = error.code() if callable(getattr(error, "code", None)) else None
            self._stats.answer(getattr(code, "name", "UNKNOWN"))
            self._stats.last_error = f"gRPC {getattr(code, 'name', 'error')}"
            raise
        self._stats.answer("OK")
        partial = response.partial_success
        rejected = getattr(partial, _RESPONSES[self._stats.signal][1])
        if rejected or partial.error_message:
            self._stats.reject(rejected, partial.error_message)
        return response


def _grpc_exporter_class(signal: Signal) -> type:
    try:
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter
        if signal == "logs":
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

            return OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter
    except ImportError as exc:
        raise ImportError(
            "protocol='grpc' needs opentelemetry-exporter-otlp-proto-grpc>=1.45 "
            "(pip install 'tradetrace[grpc]')"
        ) from exc


def _grpc_counting_class(base: type) -> type:
    class Counting(base):  # type: ignore[misc, valid-type]
        _tradetrace: tuple[SignalStats, Deadline]

        def _initialize_channel_and_stub(self) -> None:
            super()._initialize_channel_and_stub()
            stats, deadline = self._tradetrace
            self._client = _CountingStub(self._client, stats, deadline)

        def _translate_data(self, data: Any) -> Any:
            if isinstance(data, (ExportTraceServiceRequest, ExportLogsServiceRequest)):
                return data  # built by otlp_convert: sent as it is
            return super()._translate_data(data)

        def _count_data(self, data: Any) -> int:
            if isinstance(data, ExportTraceServiceRequest):
                return sum(len(s.spans) for r in data.resource_spans for s in r.scope_spans)
            if isinstance(data, ExportLogsServiceRequest):
                return sum(len(s.log_records) for r in data.resource_logs for s in r.scope_logs)
            return super()._count_data(data)

    Counting.__name__ = Counting.__qualname__ = f"Counting{base.__name__}"
    return Counting


def _grpc_compression(value: str | None) -> Any:
    if value is None:
        return None
    import grpc

    names = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate,
             "none": grpc.Compression.NoCompression}  # fmt: skip
    return names[value.strip().lower()]


def _grpc_arguments(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "endpoint": settings.get("endpoint"),
        "insecure": settings.get("insecure"),
        "headers": settings.get("headers"),
        "timeout": settings.get("timeout"),
        "compression": _grpc_compression(settings.get("compression")),
    }


# --- senders ------------------------------------------------------------------------------


class Sender:
    """Sends ready-made export requests of one signal with the official exporter."""

    def __init__(
        self, signal: Signal, protocol: Protocol, settings: Mapping[str, Any], stats: SignalStats
    ) -> None:
        self.signal = signal
        self.protocol = protocol
        self.stats = stats
        self.deadline = Deadline()
        self._closed = False
        if protocol == "grpc":
            cls = _grpc_counting_class(_grpc_exporter_class(signal))
            cls._tradetrace = (stats, self.deadline)
            self.exporter = cls(**_grpc_arguments(settings))
            self.endpoint = str(getattr(self.exporter, "_endpoint", ""))
        else:
            session = _session_class()(stats, self.deadline)
            cls = _http_exporter_class(signal)
            self.exporter = cls(**_http_arguments(signal, settings, session))
            client = getattr(self.exporter, "_client", None)
            if not callable(getattr(client, "export", None)):
                raise ImportError(_NEEDS)
            self.endpoint = str(getattr(self.exporter, "_endpoint", ""))

    def send(self, request: Any, count: int) -> bool:
        """Deliver one export request of ``count`` items; True on success (counted either way)."""
        error: str | None = None
        try:
            if self.protocol == "grpc":
                ok = self.exporter._export(request).name == "SUCCESS"
            else:
                result = self.exporter._client.export(request.SerializeToString())
                ok = bool(result.success)
                if not ok:
                    code = result.status_code
                    error = f"HTTP {code} {result.reason or ''}".strip() if code else None
                    error = error or (repr(result.error) if result.error else None)
        except Exception as exc:  # nothing may escape into the pipeline's lane
            ok, error = False, f"{type(exc).__name__}: {exc}"
        self.stats.outcome(ok, count, error)
        return ok

    def abort(self) -> None:
        """Refuse further requests and interrupt a backoff wait (for a shutdown deadline)."""
        self.deadline.aborted = True
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):  # closing must not fail a shutdown
            self.exporter.shutdown()


def metric_exporter(protocol: Protocol, settings: Mapping[str, Any], stats: SignalStats) -> Any:
    """The official OTLP metric exporter for ``protocol``, counting what it delivers."""
    deadline = Deadline()
    if protocol == "grpc":
        base = _grpc_counting_class(_grpc_exporter_class("metrics"))
        base._tradetrace = (stats, deadline)
        arguments = _grpc_arguments(settings)
    else:
        base = _http_exporter_class("metrics")
        arguments = _http_arguments("metrics", settings, _session_class()(stats, deadline))

    class CountingMetricExporter(base):  # type: ignore[misc, valid-type]
        tradetrace_deadline = deadline

        def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> Any:
            try:
                result = super().export(metrics_data, timeout_millis, **kwargs)
            except ExportAborted as exc:  # raised through the gRPC stub past the deadline
                stats.outcome(False, _points(metrics_data), str(exc))
                return MetricExportResult.FAILURE
            ok = getattr(result, "name", "") == "SUCCESS"
            stats.outcome(ok, _points(metrics_data), None if ok else "metrics export failed")
            return result

    return CountingMetricExporter(**arguments)


def _points(metrics_data: Any) -> int:
    try:
        return sum(
            len(metric.data.data_points)
            for resource in metrics_data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        )
    except Exception:
        return 0
