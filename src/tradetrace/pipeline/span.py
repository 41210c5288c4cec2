"""Spans: timed records whose seq is taken when they begin.

A :class:`Span` is opened by ``Recorder.span``/``bundle`` (as a context manager) and by the
instrumentation wrappers (``start()``/``end()``). While it is open it is the current scope:
records made inside carry its seq as ``parent_seq`` and its trace/span ids.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tradetrace import semconv as sc
from tradetrace.pipeline.otel_context import current_otel_ids
from tradetrace.pipeline.scope import CURRENT_SCOPE, Scope
from tradetrace.records import Record
from tradetrace.semconv import Status

if TYPE_CHECKING:
    from tradetrace.pipeline.recorder import Recorder


class Span:
    """An open span or bundle; a context manager for sync code and ``async with`` alike."""

    __slots__ = ("_attributes", "_bundle", "_kind", "_name", "_otel_parent", "_parent",
                 "_recorder", "_scope", "_start_ns", "_start_perf", "_token", "seq", "severity",
                 "status")  # fmt: skip

    def __init__(
        self,
        recorder: Recorder,
        name: str,
        kind: str,
        attributes: dict[str, Any],
        bundle: bool = False,
    ) -> None:
        self._recorder = recorder
        self._name = name
        self._kind = kind
        self._attributes = attributes
        self._bundle = bundle
        self._token: Any = None
        self.seq = 0
        self.status: str | None = None
        self.severity: str | None = None

    @property
    def attributes(self) -> dict[str, Any]:
        """The attributes the span will be recorded with (already cleaned)."""
        return self._attributes

    def set_attribute(self, key: str, value: Any) -> None:
        """Add an attribute before the span ends (same rules as keyword attributes)."""
        self._recorder._extra(self._attributes, {key: value})

    def set_attributes(self, **attributes: Any) -> None:
        self._recorder._extra(self._attributes, attributes)

    def record_event(self, event_type: str, **fields: Any) -> int:
        """Record a detail event inside this bundle or span (same as ``record_event``)."""
        return self._recorder.record_event(event_type, parent=self.seq, **fields)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Span:
        """Take the seq, note the start time and become the current scope."""
        recorder = self._recorder
        outer = CURRENT_SCOPE.get()
        if outer is not None and outer.owner is not recorder._token:
            outer = None
        self._otel_parent = None
        self._parent = outer
        self.seq = seq = next(recorder._seq)
        if outer is not None:
            trace_id = outer.trace_id
            outer.children += 1
        else:
            otel = current_otel_ids() if recorder.correlate_otel else None
            if otel is not None:
                trace_id, self._otel_parent = otel
            else:
                trace_id = recorder._trace_salt ^ seq
        if recorder._wall_clock:  # one clock read: wall time is the event time and the timer
            self._start_ns = time.time_ns()
        else:
            self._start_ns = recorder.clock.now_ns()
            self._start_perf = time.perf_counter_ns()
        self._scope = Scope(recorder._token, seq, trace_id, recorder._span_salt ^ seq)
        self._token = CURRENT_SCOPE.set(self._scope)
        return self

    @property
    def scope(self) -> Scope:
        """The scope records made inside this span point to."""
        return self._scope

    def suspend(self) -> None:
        """Stop being the current scope without ending (generators set it per step)."""
        if self._token is not None:
            CURRENT_SCOPE.reset(self._token)
            self._token = None

    def end(self, exc: BaseException | None = None) -> None:
        """Leave the scope and record the span; never raises."""
        if self._token is not None:
            try:
                CURRENT_SCOPE.reset(self._token)
            except (ValueError, RuntimeError):  # ended in another context: restore by hand
                CURRENT_SCOPE.set(self._parent)
        try:
            self._emit(exc)
        except Exception as failure:  # never raise into the user's code from a span's end
            self._recorder._errors.report("span_end", failure)

    def __enter__(self) -> Span:
        return self.start()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.end(exc)

    async def __aenter__(self) -> Span:
        return self.start()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.end(exc)

    def _emit(self, exc: BaseException | None) -> None:
        recorder = self._recorder
        scope = self._scope
        attributes = self._attributes
        if exc is not None:
            attributes.update(exception_attributes(exc, recorder._redactor.limit_text))
        if self._bundle:
            attributes[sc.BUNDLE_DETAIL_COUNT] = scope.children
            status = Status.FAILED.value if exc is not None else Status.COMPLETED.value
        elif exc is not None:
            status = Status.ERROR.value
        else:
            status = self.status or Status.OK.value
        severity = "ERROR" if exc is not None else self.severity or "INFO"
        if recorder._wall_clock:
            observed = time.time_ns()
            duration = max(0, observed - self._start_ns)
        elif recorder.deterministic:
            duration, observed = recorder.clock.now_ns() - self._start_ns, None
        else:
            duration, observed = time.perf_counter_ns() - self._start_perf, time.time_ns()
        parent = self._parent
        parent_span_id = parent.span_id if parent is not None else self._otel_parent
        record = Record(
            self.seq, recorder.run_id, self._kind, self._name, self._start_ns, observed, duration,
            scope.trace_id, scope.span_id, parent_span_id, parent.seq if parent else None, None,
            severity, status, attributes,
        )  # fmt: skip
        recorder._enqueue(record)
        if self._bundle:
            recorder._remember_event(self.seq, self._name, status)
            recorder._history.append(record)


def exception_attributes(
    exc: BaseException, scrub: Callable[[str], str] = lambda text: text
) -> dict[str, str]:
    """OpenTelemetry exception attributes with the full traceback, secrets scrubbed from text
    (exception messages of HTTP clients can carry signed URLs and request bodies)."""
    try:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:  # a broken __str__ in the exception must not stop the record
        stack = f"<traceback unavailable for {type(exc).__name__}>"
    try:
        message = str(exc)
    except Exception:
        message = f"<unprintable {type(exc).__name__}>"
    return {
        sc.EXCEPTION_TYPE: type(exc).__name__,
        sc.EXCEPTION_MESSAGE: scrub(message),
        sc.EXCEPTION_STACKTRACE: scrub(stack),
    }
