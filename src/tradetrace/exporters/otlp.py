"""OTLP exporter: traces, logs and metrics to any OpenTelemetry backend or Collector.

``OtlpExporter()`` (or ``exporters=("otlp",)``) ships each batch, on the exporter's own thread,
as an OTLP trace request (spans, bundles, instrumented calls, orders) and an OTLP logs request
(fills, decisions, risk checks, errors, ledger events; see
:mod:`~tradetrace.exporters.otlp_convert`), and publishes trading metrics derived from the same
records (:mod:`~tradetrace.exporters.otlp_metrics`) through an OpenTelemetry ``MeterProvider``.
Sending is done by the official OpenTelemetry OTLP exporters
(:mod:`~tradetrace.exporters.otlp_transport`): HTTP/protobuf by default, gRPC with
``protocol="grpc"``.

Configuration: arguments first, else the standard environment variables the official exporters
read: ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``_HEADERS``, ``_PROTOCOL``, ``_TIMEOUT`` (seconds, as the
official Python exporters read it), ``_COMPRESSION``, ``_CERTIFICATE`` and their per-signal
variants (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ...), ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_METRIC_EXPORT_INTERVAL``. ``endpoint`` is the base URL
for HTTP (``/v1/traces``, ``/v1/logs``, ``/v1/metrics`` are appended) and ``host:port`` or a
URL for gRPC.

Delivery: a batch that cannot be delivered within the per-export timeout (retries included)
makes ``export`` return ``FAILURE``: the pipeline counts it as failed for this exporter, and
:meth:`OtlpExporter.counters` keeps the detail per signal. It is not kept for later: a backend
that comes back within the retry budget gets it, one that comes back later gets only what is
recorded from then on. ``shutdown(timeout)`` returns by its deadline whatever the backend does
and logs what it could not deliver.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

try:  # opentelemetry-proto comes with the official exporters, not with tradetrace itself
    import opentelemetry.proto  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the otlp exporter needs the OpenTelemetry OTLP exporters: "
        "pip install 'tradetrace[otlp]' (and 'tradetrace[grpc]' for OTLP/gRPC)"
    ) from exc

from tradetrace.exporters.base import BaseExporter, ExportResult
from tradetrace.exporters.otlp_convert import DEFAULT_ATTRIBUTE_LIMIT, Converter
from tradetrace.exporters.otlp_metrics import Counters, TradingMetrics
from tradetrace.exporters.otlp_transport import (
    Protocol,
    Sender,
    Signal,
    SignalStats,
    metric_exporter,
)
from tradetrace.pipeline.run import Run
from tradetrace.records import Record
from tradetrace.version import __version__

logger = logging.getLogger("tradetrace.otlp")

SIGNALS: tuple[Signal, ...] = ("traces", "logs", "metrics")
_PROTOCOLS: dict[str, Protocol] = {
    "http/protobuf": "http/protobuf",
    "http": "http/protobuf",
    "grpc": "grpc",
}
_DEFAULT_METRICS_INTERVAL = 60.0


def resolve_protocol(value: str | None, signal: Signal) -> Protocol:
    """The protocol of ``signal``: the argument, else ``OTEL_EXPORTER_OTLP_{SIGNAL}_PROTOCOL``,
    else ``OTEL_EXPORTER_OTLP_PROTOCOL``, else ``http/protobuf``."""
    raw = (
        value
        or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    protocol = _PROTOCOLS.get(raw.strip().lower())
    if protocol is None:
        raise ValueError(
            f"OTLP protocol {raw!r} is not supported: use 'http/protobuf' (default) or 'grpc'"
        )
    return protocol


def resource_attributes(
    run: Run | None, service_name: str | None = None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The resource: ``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_SERVICE_NAME``, then the run's
    attributes (``Run.resource_attributes()``) over them, then the exporter's arguments."""
    from opentelemetry.sdk.resources import OTELResourceDetector

    attributes: dict[str, Any] = dict(OTELResourceDetector().detect().attributes)
    attributes["telemetry.sdk.language"] = "python"
    if run is not None:
        attributes.update(run.resource_attributes())
    else:
        attributes.setdefault("service.name", "tradetrace")
        attributes["telemetry.sdk.name"] = "tradetrace"
        attributes["telemetry.sdk.version"] = __version__
    if service_name:
        attributes["service.name"] = service_name
    attributes.update(extra or {})
    return {k: v for k, v in attributes.items() if v is not None}


def _primitive(value: Any) -> Any:
    """A value the SDK's Resource accepts (metrics); anything else becomes its text."""
    if isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


class OtlpExporter(BaseExporter):
    """Ships records as OTLP traces and logs, and trading metrics, through the official
    OpenTelemetry OTLP exporters (see the module docstring)."""

    name = "otlp"
    durable_on_export = True  # a returned export is in the sink (spool mode acks it)

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        compression: str | None = None,
        insecure: bool | None = None,
        service_name: str | None = None,
        resource_attributes: Mapping[str, Any] | None = None,
        attribute_limit: int | None = DEFAULT_ATTRIBUTE_LIMIT,
        metrics: bool = True,
        metrics_interval: float | None = None,
        pipeline_counters: Counters | None = None,
    ) -> None:
        """``timeout`` is the per-export deadline in seconds (retries included; default 10 or
        ``OTEL_EXPORTER_OTLP_TIMEOUT``). ``attribute_limit`` caps string values (characters;
        ``None``: no cap). ``metrics_interval`` is in seconds (default
        ``OTEL_METRIC_EXPORT_INTERVAL`` or 60). ``pipeline_counters`` is a callable returning
        the pipeline's counters (``recorder.health``), published as metrics; it can be set
        later as an attribute. ``insecure`` (gRPC only) forces a plaintext or TLS channel;
        by default an ``http://`` endpoint is plaintext."""
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout={timeout!r}: must be a number of seconds above zero")
        if metrics_interval is not None and not metrics_interval > 0:
            raise ValueError(f"metrics_interval={metrics_interval!r}: must be above zero")
        if compression is not None and compression.strip().lower() not in (
            "gzip", "deflate", "none",
        ):  # fmt: skip
            raise ValueError(f"compression={compression!r}: must be 'gzip', 'deflate' or 'none'")
        self.protocols: dict[Signal, Protocol] = {s: resolve_protocol(protocol, s) for s in SIGNALS}
        self._settings: dict[str, Any] = {
            "endpoint": endpoint,
            "headers": dict(headers) if headers else None,
            "timeout": timeout,
            "compression": compression,
            "insecure": insecure,
        }
        self._service_name = service_name
        self._extra_resource = dict(resource_attributes or {})
        self._attribute_limit = attribute_limit
        self._metrics_enabled = metrics
        self._metrics_interval = metrics_interval
        self._pipeline_counters = pipeline_counters
        self._start(None)

    def _start(self, run: Run | None) -> None:
        """Fresh senders, counters and metrics (construction and after a fork)."""
        self._converter = Converter(self._attribute_limit)
        self._stats = {signal: SignalStats(signal) for signal in SIGNALS}
        self._senders = {
            signal: Sender(signal, self.protocols[signal], self._settings, self._stats[signal])
            for signal in ("traces", "logs")
        }
        self._metrics = TradingMetrics()
        self._metrics.exporter_counters = self.counters
        self._metrics.pipeline_counters = self._pipeline_counters
        self._lock = threading.Lock()  # held while a batch is exported
        self._received = 0
        self._in_flight = 0
        self._conversion_errors = 0
        self._failed_since_flush = 0
        self._closed = False
        self._provider: Any = None
        self._reader: Any = None
        self._metric_exporter: Any = None
        self._ticker: threading.Thread | None = None
        self._stop_ticker = threading.Event()
        self._converter.set_resource(self._resource(run))

    # --- configuration -------------------------------------------------------------------

    @property
    def pipeline_counters(self) -> Counters | None:
        """Callable returning the pipeline's counters (e.g. ``recorder.health``), or None."""
        return self._pipeline_counters

    @pipeline_counters.setter
    def pipeline_counters(self, hook: Counters | None) -> None:
        self._pipeline_counters = hook
        self._metrics.pipeline_counters = hook

    @property
    def endpoints(self) -> dict[str, str]:
        """Where each signal goes (as the official exporters resolved it)."""
        endpoints = {signal: sender.endpoint for signal, sender in self._senders.items()}
        if self._metric_exporter is not None:
            endpoints["metrics"] = str(getattr(self._metric_exporter, "_endpoint", ""))
        return endpoints

    def _resource(self, run: Run | None) -> dict[str, Any]:
        return resource_attributes(run, self._service_name, self._extra_resource)

    # --- exporter protocol ---------------------------------------------------------------

    def open(self, run: Run) -> None:
        """Set the resource from the run and start the metrics pipeline."""
        resource = self._resource(run)
        self._converter.set_resource(resource)
        if self._metrics_enabled and self._provider is None:
            self._start_metrics(resource)

    def export(self, batch: Sequence[Record]) -> ExportResult:
        """Convert and send one batch (traces, then logs); FAILURE if anything was not
        delivered (the detail is in :meth:`counters`)."""
        if self._closed:
            self._stats["logs"].outcome(False, len(batch), "exporter already shut down")
            return ExportResult.FAILURE
        with self._lock:
            self._received += len(batch)
            self._in_flight = len(batch)
            try:
                if self._metrics_enabled and self._provider is None:
                    self._start_metrics(self._resource(None))
                return self._export(batch)
            finally:
                self._in_flight = 0

    def _export(self, batch: Sequence[Record]) -> ExportResult:
        converter = self._converter
        errors_before = converter.errors
        traces, spans, logs, log_records = converter.requests(batch)
        try:
            self._metrics.observe(batch)
        except Exception as exc:  # metrics never stop the records
            logger.warning("otlp: trading metrics could not fold a batch: %r", exc)
        failed = converter.errors - errors_before
        if failed:
            self._conversion_errors += failed
            logger.warning(
                "otlp: %d record(s) could not be converted and were not sent: %s",
                failed, converter.last_error,
            )  # fmt: skip
        ok = not failed
        if traces is not None:
            ok = self._senders["traces"].send(traces, spans) and ok
        if logs is not None:
            ok = self._senders["logs"].send(logs, log_records) and ok
        if not ok:
            self._failed_since_flush += 1
            return ExportResult.FAILURE
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float) -> bool:
        """Collect and send the metrics now; False if that failed or did not finish in time,
        or if a batch failed since the last flush."""
        ok = self._failed_since_flush == 0
        self._failed_since_flush = 0
        provider = self._provider
        if provider is not None and not self._closed:
            millis = max(0.0, timeout) * 1000
            ok = _bounded(lambda: provider.force_flush(timeout_millis=millis), timeout) and ok
        return ok

    def shutdown(self, timeout: float) -> None:
        """Send the last metrics, wait for a batch in flight, close; returns by ``timeout``
        whatever the backend does, and logs what could not be delivered."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + max(0.0, timeout)
        for sender in self._senders.values():
            sender.deadline.at = deadline
        if self._metric_exporter is not None:
            self._metric_exporter.tradetrace_deadline.at = deadline
        alarm = threading.Timer(max(0.0, deadline - time.monotonic()), self._abort)
        alarm.daemon = True
        alarm.start()
        finished = True
        try:
            self._stop_ticker.set()
            if self._provider is not None:
                finished = _bounded(self._close_metrics, deadline - time.monotonic())
            if self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                self._lock.release()
            else:
                finished = False
        finally:
            alarm.cancel()
            for sender in self._senders.values():
                sender.close()
        self._report(finished)

    def after_fork(self) -> None:
        """In a forked child: new connections, counters and metrics (the parent's threads
        and sockets are not the child's)."""
        self._start(None)

    # --- reading -------------------------------------------------------------------------

    def counters(self) -> dict[str, Any]:
        """Delivery counters: records received, per-signal ``exported``/``failed``/
        ``rejected`` items, requests, attempts and retries, status codes, last error."""
        signals = {signal: stats.as_dict() for signal, stats in self._stats.items()}
        return {
            "received": self._received,
            "in_flight": self._in_flight,
            "undelivered": signals["traces"]["failed"] + signals["logs"]["failed"],
            "conversion_errors": self._conversion_errors,
            "truncated_values": self._converter.truncated,
            "protocols": dict(self.protocols),
            "endpoints": self.endpoints,
            "signals": signals,
        }

    def metrics(self) -> dict[str, Any]:
        """Snapshot: trading metrics (exact Decimals), latencies, this exporter's counters
        (``"exporter"``) and the pipeline's (``"pipeline"``, when the hook is set)."""
        return self._metrics.snapshot()

    # --- internals -----------------------------------------------------------------------

    def _start_metrics(self, resource: Mapping[str, Any]) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource

        protocol = self.protocols["metrics"]
        self._metric_exporter = metric_exporter(protocol, self._settings, self._stats["metrics"])
        # No reader thread of the SDK's own (it restarts itself in forked children): this
        # exporter's ticker collects, so after_fork controls what runs in a child.
        self._reader = PeriodicExportingMetricReader(
            self._metric_exporter, export_interval_millis=float("inf")
        )
        self._provider = MeterProvider(
            resource=Resource({k: _primitive(v) for k, v in resource.items()}),
            metric_readers=[self._reader],
            shutdown_on_exit=False,
        )
        self._metrics.bind(self._provider.get_meter("tradetrace", __version__))
        interval = self._metrics_interval or _env_interval()
        self._stop_ticker = threading.Event()
        self._ticker = threading.Thread(
            target=self._tick, args=(self._reader, self._stop_ticker, interval),
            name="tradetrace-otlp-metrics", daemon=True,
        )  # fmt: skip
        self._ticker.start()

    @staticmethod
    def _tick(reader: Any, stop: threading.Event, interval: float) -> None:
        while not stop.wait(interval):
            try:
                reader.collect()
            except Exception as exc:  # a failed collection waits for the next one
                logger.warning("otlp: metrics collection failed: %r", exc)

    def _close_metrics(self) -> bool:
        self._reader.collect()
        self._provider.shutdown()
        return True

    def _abort(self) -> None:
        """At the shutdown deadline: refuse further requests, interrupt retry waits."""
        for sender in self._senders.values():
            sender.abort()
        exporter = self._metric_exporter
        if exporter is not None:
            exporter.tradetrace_deadline.aborted = True
            with contextlib.suppress(Exception):
                exporter.shutdown()

    def _report(self, finished: bool) -> None:
        counters = self.counters()
        signals = counters["signals"]
        lost = {s: signals[s]["failed"] for s in SIGNALS if signals[s]["failed"]}
        if counters["in_flight"]:
            lost["in flight"] = counters["in_flight"]
        if lost or not finished:
            detail = ", ".join(f"{what}: {n}" for what, n in lost.items()) or "nothing counted"
            last = next((signals[s]["last_error"] for s in SIGNALS if signals[s]["last_error"]),
                        None)  # fmt: skip
            logger.warning(
                "otlp: not delivered to %s (%s)%s; last error: %s",
                self.endpoints.get("traces"), detail,
                "" if finished else "; shutdown deadline reached", last,
            )  # fmt: skip


def _env_interval() -> float:
    raw = os.environ.get("OTEL_METRIC_EXPORT_INTERVAL")
    try:
        return float(raw) / 1000 if raw else _DEFAULT_METRICS_INTERVAL
    except ValueError:
        return _DEFAULT_METRICS_INTERVAL


def _bounded(function: Callable[[], Any], timeout: float) -> bool:
    """Run ``function`` on a helper thread; True if it returned truthy within ``timeout``."""
    outcome: list[Any] = [False]

    def run() -> None:
        try:
            outcome[0] = function()
        except Exception as exc:
            logger.warning("otlp: %r", exc)

    helper = threading.Thread(target=run, name="tradetrace-otlp-flush", daemon=True)
    helper.start()
    helper.join(max(0.0, timeout))
    return not helper.is_alive() and bool(outcome[0])
