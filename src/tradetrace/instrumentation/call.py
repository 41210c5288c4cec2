"""One instrumented call: a span-like record of the call's kind, never raising into the caller.

A :class:`CallRecorder` is built once per wrapped callable (wrap time: parameter names, which of
them are sensitive, the fixed attributes); per call it opens a span before the call and, after
it, fills in arguments, result and the kind's semconv attributes. The decorators and
``auto_instrument`` share it, sync and async alike.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradetrace import semconv as sc
from tradetrace.instrumentation import extract
from tradetrace.pipeline.redaction import REDACTED, Redactor
from tradetrace.pipeline.span import Span
from tradetrace.records import DEFERRED
from tradetrace.semconv import RecordKind
from tradetrace.validation import short_repr

if TYPE_CHECKING:
    from tradetrace.pipeline.recorder import Recorder

KINDS = frozenset({"decision", "risk_check", "fill", "order", "span"})
_WRAP_TIME_REDACTOR = Redactor()
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

Extract = Callable[[dict[str, Any], Any], Mapping[str, Any]]
After = Callable[["Recorder", Span, dict[str, Any], Any], None]


class CallRecorder:
    """What to record about calls of one callable (see the module docstring)."""

    __slots__ = (
        "_after",
        "_extract",
        "_fixed",
        "_positional",
        "_private_result_keys",
        "_recorder",
        "_sensitive",
        "_var_positional",
        "capture_args",
        "capture_result",
        "function",
        "kind",
        "name",
    )  # fmt: skip

    def __init__(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        kind: str = "span",
        *,
        capture_args: bool = True,
        capture_result: bool = True,
        attributes: Mapping[str, Any] | None = None,
        extract: Extract | None = None,
        recorder: Recorder | None = None,
        after: After | None = None,
        private_result_keys: frozenset[str] = frozenset(),
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r}: must be one of {', '.join(sorted(KINDS))}")
        self.kind = RecordKind(kind).value
        self.function = getattr(func, "__qualname__", None) or getattr(func, "__name__", "call")
        self.name = name or getattr(func, "__name__", None) or self.function
        self.capture_args = capture_args
        self.capture_result = capture_result
        self._extract = extract
        self._after = after
        self._private_result_keys = private_result_keys
        self._recorder = recorder
        self._fixed = dict(attributes or {})
        self._positional: tuple[str, ...] = ()
        self._var_positional: str | None = None
        try:
            parameters = inspect.signature(func).parameters.values()
        except (TypeError, ValueError):  # builtins without a signature: names unknown
            parameters = ()  # type: ignore[assignment]
        names = []
        for parameter in parameters:
            if parameter.kind in _POSITIONAL:
                names.append(parameter.name)
            elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                self._var_positional = parameter.name
        self._positional = tuple(names)
        self._sensitive = frozenset(n for n in names if _WRAP_TIME_REDACTOR.is_sensitive(n))

    def recorder(self) -> Recorder:
        """The explicit recorder, else the global one (resolved per call: it may change)."""
        if self._recorder is not None:
            return self._recorder
        from tradetrace.api import get_recorder

        return get_recorder()

    # --- per call ------------------------------------------------------------------------

    def begin(self) -> Span | None:
        """Open the call's span; ``None`` if tradetrace itself failed (counted, never raised)."""
        try:
            return Span(self.recorder(), self.name, self.kind, {}).start()
        except Exception as exc:
            _report_anywhere(self._recorder, "instrumentation_begin", exc)
            return None

    def succeed(self, span: Span, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any,
                skip: int = 0) -> None:  # fmt: skip
        """Record a call that returned ``result``.

        When the arguments and result are immutable scalars (the common case for strategy
        functions), describing them is deferred to the pipeline's thread: the caller pays only
        for the span itself.
        """
        recorder = span._recorder
        if self._after is None and _immutable(args, kwargs, result):
            span.attributes[DEFERRED] = (self._describe_later, recorder, args, kwargs, result, skip)
        else:
            try:
                self._describe(recorder, span, self.bind(args, kwargs, skip), result)
            except Exception as exc:
                recorder._errors.report("instrumentation_attributes", exc)
        span.end()

    def _describe_later(self, record: Any, recorder: Recorder, args: tuple[Any, ...],
                        kwargs: dict[str, Any], result: Any, skip: int) -> None:  # fmt: skip
        self._describe(recorder, record, self.bind(args, kwargs, skip), result)

    def fail(self, span: Span, args: tuple[Any, ...], kwargs: dict[str, Any],
             exc: BaseException, skip: int = 0) -> None:  # fmt: skip
        """Record a call that raised ``exc`` (an error record inside the span, then the span)."""
        recorder = span._recorder
        try:
            raw = self.bind(args, kwargs, skip)
            attributes = span.attributes
            if self.capture_args:
                attributes[sc.CALL_ARGUMENTS] = self._clean_arguments(recorder, raw)
            attributes[sc.CODE_FUNCTION] = self.function
            if self.kind == "order":
                attributes.update(extract.order_fields(raw, []))
            if self._fixed:
                recorder._extra(attributes, self._fixed)
            if isinstance(exc, Exception):
                recorder.record_error(
                    type(exc).__name__, exception=exc, severity="ERROR",
                    **error_context(exc),
                )  # fmt: skip
        except Exception as failure:
            recorder._errors.report("instrumentation_error_record", failure)
        span.end(exc)

    # --- building attributes -------------------------------------------------------------

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any], skip: int = 0) -> dict[str, Any]:
        """Arguments by parameter name (positional ones too); ``skip`` drops a bound self."""
        names = self._positional[skip:] if skip else self._positional
        bound = dict(zip(names, args, strict=False))
        if len(args) > len(names):
            bound[self._var_positional or "args"] = list(args[len(names) :])
        if kwargs:
            bound.update(kwargs)
        return bound

    def _clean_arguments(self, recorder: Recorder, raw: dict[str, Any]) -> dict[str, Any]:
        redactor = recorder._redactor
        sensitive = self._sensitive
        cleaned = {}
        for name, value in raw.items():
            if name in sensitive or redactor.is_sensitive(name):
                cleaned[name] = REDACTED
            elif type(value) in _PLAIN or (type(value) is float and value - value == 0.0):
                cleaned[name] = value  # the common case: nothing to copy, redact or check
            else:
                cleaned[name] = redactor.clean(value, name, strict=False)
        return cleaned

    def _describe(self, recorder: Recorder, span: Any, raw: dict[str, Any], result: Any) -> None:
        """Fill ``span.attributes`` (and ``status``/``severity`` for risk checks); ``span`` is the
        open Span or, when deferred, the finished Record."""
        attributes = span.attributes
        attributes[sc.CODE_FUNCTION] = self.function
        notes: extract.Notes = []
        kind = self.kind
        arguments = self._clean_arguments(recorder, raw) if self.capture_args else None
        cleaned = None
        if self._private_result_keys and isinstance(result, Mapping):
            result = {k: v for k, v in result.items() if k not in self._private_result_keys}
        if self.capture_result and result is not None:
            if type(result) is tuple and all(type(v) is float and v - v == 0.0 for v in result):
                cleaned = list(result)  # e.g. (bid, ask): finite floats need no cleaning
            else:
                cleaned = recorder._redactor.clean(result, "result", strict=False)
        if kind == "decision":
            attributes[sc.DECISION_TYPE] = self.name
            if arguments is not None:
                attributes[sc.DECISION_INPUTS] = arguments
            if cleaned is not None:
                attributes[sc.DECISION_RESULT] = cleaned
                for key, value in extract.named_results(self.name, result).items():
                    attributes[key] = extract.normalise(key, value, notes)
        elif kind == "risk_check":
            passed, reason = extract.risk_outcome(result)
            attributes[sc.RISK_CHECK] = self.name
            if passed is not None:
                attributes[sc.RISK_PASSED] = passed
                span.status = "ok" if passed else "failed"
                span.severity = "INFO" if passed else "CRITICAL"
            else:
                shown = short_repr(result)
                notes.append(f"risk check result {shown} is not bool or (bool, reason)")
            if reason is not None:
                attributes[sc.RISK_REASON] = recorder._redactor.limit_text(reason)
            self._call_attributes(attributes, arguments, cleaned)
        elif kind == "fill":
            source = next(iter(raw.values()), None) if raw else result
            if isinstance(source, (Mapping, object)) and source is not None:
                attributes.update(extract.fill_fields(source, notes))
            self._call_attributes(attributes, arguments, cleaned)
        elif kind == "order":
            attributes.update(extract.order_fields(raw, notes))
            if isinstance(result, Mapping):
                attributes.update(extract.order_fields(result, notes))
            self._call_attributes(attributes, arguments, cleaned)
        else:
            self._call_attributes(attributes, arguments, cleaned)
        if self._fixed:
            recorder._extra(attributes, self._fixed)
        if self._extract is not None:
            self._run_extract(recorder, attributes, raw, result)
        if self._after is not None:
            self._after(recorder, span, raw, result)
        if notes:
            attributes[sc.INSTRUMENTATION_ERROR] = "; ".join(notes)
            recorder._errors.report(f"instrumentation_value:{self.name}", detail=notes[0])

    @staticmethod
    def _call_attributes(
        attributes: dict[str, Any], arguments: dict[str, Any] | None, result: Any
    ) -> None:
        if arguments is not None:
            attributes[sc.CALL_ARGUMENTS] = arguments
        if result is not None:
            attributes[sc.CALL_RESULT] = result

    def _run_extract(
        self, recorder: Recorder, attributes: dict[str, Any], raw: dict[str, Any], result: Any
    ) -> None:
        assert self._extract is not None
        try:
            extra = self._extract(raw, result)
            if extra:
                recorder._extra(attributes, dict(extra))
        except Exception as exc:  # a broken hook is the user's bug, not the trading loop's
            attributes[sc.INSTRUMENTATION_ERROR] = f"extract hook failed: {type(exc).__name__}"
            recorder._errors.report(f"extract_hook:{self.name}", exc)


_SCALARS = frozenset({int, float, str, bool, type(None), Decimal})
_PLAIN = frozenset({int, bool, type(None), Decimal})


def _immutable(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> bool:
    """Whether nothing the call saw can change after it returns (scalars, tuples of them)."""
    scalars = _SCALARS
    for value in (*args, *kwargs.values(), result) if kwargs else (*args, result):
        if type(value) in scalars:
            continue
        if type(value) is not tuple:
            return False
        for item in value:
            if type(item) not in scalars:
                return False
    return True


def error_context(exc: BaseException) -> dict[str, Any]:
    """Extra error attributes: ``retryable`` for network errors (ccxt.NetworkError and kin)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "NetworkError" in names or isinstance(exc, (ConnectionError, TimeoutError)):
        return {"retryable": True}
    if "ExchangeError" in names or "BaseError" in names:
        return {"retryable": False}
    return {}


def _report_anywhere(recorder: Recorder | None, kind: str, exc: Exception) -> None:
    try:
        if recorder is None:
            from tradetrace.api import get_recorder

            recorder = get_recorder()
        recorder._errors.report(kind, exc)
    except Exception:  # pragma: no cover - nothing left to report to
        pass
