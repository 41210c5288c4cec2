"""tradetrace: OpenTelemetry-style instrumentation for trading systems.

>>> import tradetrace as tt
>>> rec = tt.configure(service_name="avellaneda", exporters=("csv", "jsonl"))
>>> tt.record_fill(symbol="BTC-USDT", side="BUY", price="67500.10", quantity="0.001")
1
"""

from tradetrace import semconv
from tradetrace.api import (
    bundle,
    configure,
    flush,
    get_recorder,
    health,
    record,
    record_decision,
    record_error,
    record_event,
    record_fill,
    record_order,
    record_risk_check,
    shutdown,
    span,
    update_event,
)
from tradetrace.exporters.base import BaseExporter, Exporter, ExportResult
from tradetrace.instrumentation.auto import Instrumentation, auto_instrument, uninstrument
from tradetrace.instrumentation.decorators import instrument
from tradetrace.pipeline.clock import SimulatedClock, WallClock
from tradetrace.pipeline.processor import FlushResult
from tradetrace.pipeline.recorder import LifecycleError, Recorder, flush_all
from tradetrace.pipeline.span import Span
from tradetrace.query import query, summary, verify
from tradetrace.records import (
    DecisionEntry,
    ErrorEntry,
    EventEntry,
    FillEntry,
    Record,
    RiskCheckEntry,
)
from tradetrace.validation import InvalidRecordError
from tradetrace.version import __version__

__all__ = [
    "BaseExporter",
    "DecisionEntry",
    "ErrorEntry",
    "EventEntry",
    "ExportResult",
    "Exporter",
    "FillEntry",
    "FlushResult",
    "Instrumentation",
    "InvalidRecordError",
    "LifecycleError",
    "Record",
    "Recorder",
    "RiskCheckEntry",
    "SimulatedClock",
    "Span",
    "WallClock",
    "__version__",
    "auto_instrument",
    "bundle",
    "configure",
    "flush",
    "flush_all",
    "get_recorder",
    "health",
    "instrument",
    "query",
    "record",
    "record_decision",
    "record_error",
    "record_event",
    "record_fill",
    "record_order",
    "record_risk_check",
    "semconv",
    "shutdown",
    "span",
    "summary",
    "uninstrument",
    "update_event",
    "verify",
]
