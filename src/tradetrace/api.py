"""The global Recorder and the module-level functions that delegate to it.

``tradetrace.configure(...)`` creates it; every ``tradetrace.record_*`` call goes to it. Used
before ``configure``, the functions configure the defaults once and say so in the log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from tradetrace.pipeline.processor import FlushResult
from tradetrace.pipeline.recorder import Recorder, Span
from tradetrace.records import Entry

logger = logging.getLogger("tradetrace")
_lock = threading.Lock()
_global: Recorder | None = None


def configure(*args: Any, **kwargs: Any) -> Recorder:
    """Create the global Recorder (same arguments as :class:`Recorder`) and return it.

    A previous global Recorder is flushed and shut down first.
    """
    global _global
    recorder = Recorder(*args, **kwargs)
    with _lock:
        previous, _global = _global, recorder
    if previous is not None:
        previous.shutdown(previous.exit_timeout)
    return recorder


def get_recorder() -> Recorder:
    """The global Recorder, configured with the defaults on first use if needed."""
    global _global
    recorder = _global
    if recorder is None:
        with _lock:
            if _global is None:
                _global = Recorder()
                logger.info(
                    "tradetrace used before configure(): recording to %s with exporters %s",
                    _global.directory,
                    ", ".join(e.name for e in _global.exporters),
                )
            recorder = _global
    return recorder


def record_fill(**fields: Any) -> int:
    """Record a fill on the global Recorder (see :meth:`Recorder.record_fill`)."""
    return get_recorder().record_fill(**fields)


def record_order(action: str, **fields: Any) -> int:
    """Record an order action on the global Recorder (see :meth:`Recorder.record_order`)."""
    return get_recorder().record_order(action, **fields)


def record_decision(name: str, **fields: Any) -> int:
    """Record a decision on the global Recorder (see :meth:`Recorder.record_decision`)."""
    return get_recorder().record_decision(name, **fields)


def record_risk_check(name: str, **fields: Any) -> int:
    """Record a risk check on the global Recorder (see :meth:`Recorder.record_risk_check`)."""
    return get_recorder().record_risk_check(name, **fields)


def record_error(error_type: str, **fields: Any) -> int:
    """Record an error on the global Recorder (see :meth:`Recorder.record_error`)."""
    return get_recorder().record_error(error_type, **fields)


def record_event(event_type: str, **fields: Any) -> int:
    """Record a ledger event on the global Recorder (see :meth:`Recorder.record_event`)."""
    return get_recorder().record_event(event_type, **fields)


def update_event(seq: int, status: str, **fields: Any) -> int:
    """Append a lifecycle update on the global Recorder (see :meth:`Recorder.update_event`)."""
    return get_recorder().update_event(seq, status, **fields)


def record(entry: Entry) -> int:
    """Record a validated entry model on the global Recorder."""
    return get_recorder().record(entry)


def span(name: str, **attributes: Any) -> Span:
    """A span on the global Recorder (see :meth:`Recorder.span`)."""
    return get_recorder().span(name, **attributes)


def bundle(
    bundle_name: str, *, net_result: Mapping[str, Any] | None = None, **attributes: Any
) -> Span:
    """An atomic bundle on the global Recorder (see :meth:`Recorder.bundle`)."""
    return get_recorder().bundle(bundle_name, net_result=net_result, **attributes)


def flush(timeout: float = 5.0) -> FlushResult:
    """Flush the global Recorder; returns by ``timeout``."""
    return get_recorder().flush(timeout)


def shutdown(timeout: float = 10.0) -> FlushResult:
    """Shut the global Recorder down; the next call configures a fresh default one."""
    global _global
    with _lock:
        recorder, _global = _global, None
    if recorder is None:
        return FlushResult(True)
    return recorder.shutdown(timeout)


def health() -> dict[str, Any]:
    """Pipeline counters of the global Recorder."""
    return get_recorder().health()
