"""``tt.auto_instrument(client)``: one line that records a trading client's activity.

Instance-level: only this client's methods are wrapped (other instances of its class are
untouched), by setting wrapped bound methods on the instance; ``uninstrument()`` puts back
exactly what was there. Calling ``auto_instrument`` twice returns the same handle.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import wrapt

from tradetrace import semconv as sc
from tradetrace.instrumentation import ccxt_results
from tradetrace.instrumentation.call import CallRecorder
from tradetrace.instrumentation.decorators import wrapper_for
from tradetrace.instrumentation.specs import KIND_OF_ROLE, ClientSpec, camel_case, spec_for

if TYPE_CHECKING:
    from tradetrace.pipeline.recorder import Recorder

HANDLE_ATTRIBUTE = "__tradetrace_instrumentation__"
# (id(client), role) pairs with a call in progress in this context: an order helper such as
# ccxt's create_limit_order calling create_order is recorded once, not twice.
_ACTIVE: ContextVar[frozenset[tuple[int, str]]] = ContextVar(
    "tradetrace_active_calls", default=frozenset()
)


class Instrumentation:
    """The handle ``auto_instrument`` returns: what was wrapped, and how to undo it."""

    def __init__(self, client: Any, spec: ClientSpec, recorder: Recorder | None) -> None:
        self.client = client
        self.spec = spec
        self.recorder = recorder
        self.wrapped: dict[str, str] = {}  # method name -> role
        self._originals: dict[str, tuple[bool, Any]] = {}
        self.active = True
        self.seen_trades = ccxt_results.SeenIds()
        self.seen_funding = ccxt_results.SeenIds()

    def uninstrument(self) -> None:
        """Restore every wrapped method exactly; idempotent."""
        if not self.active:
            return
        instance_dict = vars(self.client)
        for name, (was_instance_attribute, original) in self._originals.items():
            if was_instance_attribute:
                instance_dict[name] = original
            else:
                instance_dict.pop(name, None)
        instance_dict.pop(HANDLE_ATTRIBUTE, None)
        self._originals.clear()
        self.active = False

    def _replace(self, name: str, role: str, wrapper: Any) -> None:
        instance_dict = vars(self.client)
        self._originals[name] = (name in instance_dict, instance_dict.get(name))
        instance_dict[name] = wrapper
        self.wrapped[name] = role

    def __repr__(self) -> str:
        state = "active" if self.active else "removed"
        return f"Instrumentation({type(self.client).__name__}, {self.spec.name}, {state}, " \
               f"{len(self.wrapped)} methods)"  # fmt: skip


def auto_instrument(
    client: Any,
    *,
    recorder: Recorder | None = None,
    methods: Mapping[str, str] | None = None,
    spec: ClientSpec | str | None = None,
) -> Instrumentation:
    """Record ``client``'s fills, spread decisions, risk checks and orders (or, for a ccxt
    exchange, its orders, trades, balances, positions and funding) with semantic attributes.

    ``methods={"my_callback": "fill"}`` adds or overrides roles; ``spec`` forces a spec
    (``"generic"``, ``"ccxt"`` or a :class:`ClientSpec`); ``recorder`` defaults to the global
    one, resolved per call.
    """
    existing = getattr(client, "__dict__", {}).get(HANDLE_ATTRIBUTE)
    if isinstance(existing, Instrumentation) and existing.active:
        return existing
    if not hasattr(client, "__dict__"):
        raise TypeError(
            f"cannot instrument {type(client).__name__}: instances without __dict__ (slots) "
            "cannot hold wrapped methods; decorate the class's methods with @tt.instrument"
        )
    chosen = spec_for(client, spec)
    roles = dict(chosen.methods)
    if methods:
        chosen = dataclasses.replace(chosen, methods={**roles, **methods})
        roles = dict(chosen.methods)
    handle = Instrumentation(client, chosen, recorder)
    venue = getattr(client, chosen.venue_attribute, None) if chosen.venue_attribute else None
    venue = venue if isinstance(venue, str) else None
    for name, role in roles.items():
        original = getattr(client, name, None)
        if original is None or not callable(original):
            continue
        wrapper = _wrap(handle, name, role, original, venue)
        handle._replace(name, role, wrapper)
        if chosen.camel_case_aliases:
            alias = camel_case(name)
            if alias != name and callable(getattr(client, alias, None)):
                handle._replace(alias, role, _wrap(handle, name, role, getattr(client, alias),
                                                   venue))  # fmt: skip
    vars(client)[HANDLE_ATTRIBUTE] = handle
    return handle


def uninstrument(client: Any) -> bool:
    """Undo ``auto_instrument(client)``; returns whether anything was instrumented."""
    handle = getattr(client, "__dict__", {}).get(HANDLE_ATTRIBUTE)
    if isinstance(handle, Instrumentation):
        handle.uninstrument()
        return True
    return False


def _wrap(handle: Instrumentation, name: str, role: str, original: Any, venue: str | None) -> Any:
    after = _after_hook(handle, role, venue)
    call = CallRecorder(
        original, name, KIND_OF_ROLE[role], recorder=handle.recorder,
        attributes={sc.LEDGER_VENUE: venue} if venue else None, after=after,
        capture_result=after is None,  # results read by a hook are summarised, not copied
        private_result_keys=handle.spec.private_result_keys,
    )  # fmt: skip
    inner = wrapper_for(original, call, static=True)  # a bound method: no self to skip
    if role not in handle.spec.reentrant_roles:
        return wrapt.FunctionWrapper(original, inner)
    key = (id(handle.client), role)
    if inspect.iscoroutinefunction(original):

        async def guarded_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            active = _ACTIVE.get()
            if key in active:
                return await wrapped(*args, **kwargs)
            token = _ACTIVE.set(active | {key})
            try:
                return await inner(wrapped, instance, args, kwargs)
            finally:
                _ACTIVE.reset(token)

        return wrapt.FunctionWrapper(original, guarded_async)

    def guarded(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        active = _ACTIVE.get()
        if key in active:
            return wrapped(*args, **kwargs)
        token = _ACTIVE.set(active | {key})
        try:
            return inner(wrapped, instance, args, kwargs)
        finally:
            _ACTIVE.reset(token)

    return wrapt.FunctionWrapper(original, guarded)


def _after_hook(handle: Instrumentation, role: str, venue: str | None) -> Any:
    if role == "trades":
        return lambda rec, span, raw, result: ccxt_results.record_trades(
            rec, span, venue, result, handle.seen_trades
        )
    if role == "funding":
        return lambda rec, span, raw, result: ccxt_results.record_funding(
            rec, span, venue, result, handle.seen_funding
        )
    if role == "balance":
        return lambda rec, span, raw, result: ccxt_results.record_balance(rec, span, venue, result)
    if role == "positions":
        return lambda rec, span, raw, result: ccxt_results.record_positions(
            rec, span, venue, result
        )
    return None
