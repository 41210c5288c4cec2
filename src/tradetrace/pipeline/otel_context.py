"""Correlation with the user's own OpenTelemetry tracing.

When an OpenTelemetry span is current, tradetrace records carry its trace and span ids (and a
root tradetrace span joins that trace), so both views of the same work line up.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace


def current_otel_ids() -> tuple[int, int] | None:
    """``(trace_id, span_id)`` of the current, valid OpenTelemetry span, else ``None``."""
    if not otel_context.get_current():  # nothing attached: the cheap, common case
        return None
    span_context = otel_trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return span_context.trace_id, span_context.span_id
