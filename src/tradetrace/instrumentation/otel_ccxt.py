"""An OpenTelemetry instrumentor for ccxt: every exchange built afterwards is auto-instrumented.

``CcxtInstrumentor().instrument(recorder=rec)`` (or ``opentelemetry-instrument python bot.py``
through the ``opentelemetry_instrumentor`` entry point ``ccxt``) patches the constructors of
ccxt's sync and async base ``Exchange`` classes, so each exchange created afterwards gets
``tradetrace.auto_instrument(exchange, recorder=rec)``; ``uninstrument()`` restores the
constructors and uninstruments every exchange it instrumented. Without ``recorder=`` records go
to the global recorder (``tradetrace.configure``), resolved per call.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from tradetrace.instrumentation.auto import auto_instrument, uninstrument
from tradetrace.instrumentation.call import _report_anywhere


class CcxtInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Auto-instruments every ccxt exchange (sync and ``ccxt.async_support``) constructed while
    instrumented. A singleton, like every OpenTelemetry instrumentor."""

    def __init__(self) -> None:
        if not hasattr(self, "_exchanges"):  # BaseInstrumentor.__new__ returns the singleton
            self._exchanges: weakref.WeakSet[Any] = weakref.WeakSet()
            self._recorder: Any = None
            self._patched: list[tuple[type, bool]] = []  # (class, __init__ was its own)

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("ccxt >= 4.0",)

    @property
    def instrumented_exchanges(self) -> list[Any]:
        """The live exchanges this instrumentor has instrumented."""
        return list(self._exchanges)

    def _instrument(self, **kwargs: Any) -> None:
        # ``from`` imports: ``ccxt.async_support.base`` is shadowed by a list attribute
        from ccxt.async_support.base.exchange import Exchange as AsyncExchange
        from ccxt.base.exchange import Exchange

        self._recorder = kwargs.get("recorder")

        def sync_init(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> None:
            wrapped(*args, **kwargs)
            if not isinstance(instance, AsyncExchange):  # the async constructor finishes first
                self._adopt(instance)

        def async_init(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> None:
            wrapped(*args, **kwargs)
            self._adopt(instance)

        for cls, wrapper in ((Exchange, sync_init), (AsyncExchange, async_init)):
            self._patched.append((cls, "__init__" in vars(cls)))
            wrapt.wrap_function_wrapper(cls, "__init__", wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        for cls, own in reversed(self._patched):
            unwrap(cls, "__init__")
            if not own and "__init__" in vars(cls):  # inherited (ccxt 4.5: from BaseExchange)
                delattr(cls, "__init__")
        self._patched.clear()
        for exchange in list(self._exchanges):
            uninstrument(exchange)
        self._exchanges.clear()
        self._recorder = None

    def _adopt(self, exchange: Any) -> None:
        """Instrument a just-built exchange; a failure is counted in ``health()`` and logged to
        the ``tradetrace`` logger, never raised into ccxt's constructor."""
        try:
            auto_instrument(exchange, recorder=self._recorder)
            self._exchanges.add(exchange)
        except Exception as exc:
            _report_anywhere(self._recorder, "ccxt_instrumentor", exc)
