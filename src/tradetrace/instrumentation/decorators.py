"""``@tt.instrument``: record calls of your own strategy functions.

Works on plain functions, methods, staticmethods, classmethods, async functions and sync and
async generators (built on wrapt, so signatures and introspection are preserved). The user's
exceptions are recorded and re-raised unchanged; tradetrace's own failures are counted and
never raised.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

import wrapt

from tradetrace.instrumentation.call import CallRecorder, Extract
from tradetrace.pipeline.scope import CURRENT_SCOPE

if TYPE_CHECKING:
    from tradetrace.pipeline.recorder import Recorder

F = TypeVar("F", bound=Callable[..., Any])


@overload
def instrument(name: F) -> F: ...


@overload
def instrument(
    name: str | None = None,
    kind: str = "span",
    *,
    capture_args: bool = True,
    capture_result: bool = True,
    attributes: Mapping[str, Any] | None = None,
    extract: Extract | None = None,
    recorder: Recorder | None = None,
) -> Callable[[F], F]: ...


def instrument(
    name: Any = None,
    kind: str = "span",
    *,
    capture_args: bool = True,
    capture_result: bool = True,
    attributes: Mapping[str, Any] | None = None,
    extract: Extract | None = None,
    recorder: Recorder | None = None,
) -> Any:
    """Record each call of the decorated callable as a record of ``kind``.

    ``kind`` is ``span`` (default), ``decision`` (arguments are the inputs; a ``(bid, ask)``
    tuple or a mapping result of a spread calculation gives bid/ask spreads), ``risk_check``
    (``False`` or ``(False, reason)`` is a failed, CRITICAL check), ``fill`` (the first argument
    is read as a fill dict or object) or ``order``. ``extract(arguments, result) -> dict`` maps
    to semconv attributes (keys or column names). ``@tt.instrument`` works without parentheses.
    """
    if callable(name) and not isinstance(name, str):
        return instrument()(name)

    def decorate(func: F) -> F:
        target = func.__func__ if isinstance(func, (staticmethod, classmethod)) else func
        static = isinstance(func, staticmethod)
        call = CallRecorder(
            target, name, kind, capture_args=capture_args, capture_result=capture_result,
            attributes=attributes, extract=extract, recorder=recorder,
        )  # fmt: skip
        wrapper = wrapper_for(target, call, static)
        return wrapt.decorator(wrapper)(func)  # type: ignore[no-any-return]

    return decorate


def wrapper_for(target: Callable[..., Any], call: CallRecorder, static: bool = False) -> Any:
    """The wrapt wrapper ``(wrapped, instance, args, kwargs)`` matching ``target``'s flavour."""

    def skip(instance: Any) -> int:
        return 0 if instance is None or static else 1

    if inspect.isasyncgenfunction(target):

        def async_gen_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return traced_async_generator(call, wrapped(*args, **kwargs), args, kwargs,
                                          skip(instance))  # fmt: skip

        return async_gen_wrapper
    if inspect.isgeneratorfunction(target):

        def gen_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return traced_generator(call, wrapped(*args, **kwargs), args, kwargs, skip(instance))

        return gen_wrapper
    if inspect.iscoroutinefunction(target):

        async def async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            span = call.begin()
            if span is None:
                return await wrapped(*args, **kwargs)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                call.fail(span, args, kwargs, exc, skip(instance))
                raise
            call.succeed(span, args, kwargs, result, skip(instance))
            return result

        return async_wrapper

    def sync_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        span = call.begin()
        if span is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(span, args, kwargs, exc, skip(instance))
            raise
        call.succeed(span, args, kwargs, result, skip(instance))
        return result

    return sync_wrapper


def traced_generator(
    call: CallRecorder, generator: Iterator[Any], args: Any, kwargs: Any, skip: int
) -> Iterator[Any]:
    """Re-yield ``generator``'s items inside one span covering the whole iteration.

    The span is the current scope only while the generator's own code runs, not while the
    consumer handles an item.
    """
    span = call.begin()
    if span is None:
        return (yield from generator)
    span.suspend()
    sent: Any = None
    count = 0
    try:
        while True:
            token = CURRENT_SCOPE.set(span.scope)
            try:
                item = generator.send(sent)  # type: ignore[attr-defined]
            except StopIteration as stop:
                call.succeed(span, args, kwargs, {"items": count}, skip)
                return stop.value
            finally:
                CURRENT_SCOPE.reset(token)
            count += 1
            sent = yield item
    except GeneratorExit:
        generator.close()  # type: ignore[attr-defined]
        call.succeed(span, args, kwargs, {"items": count, "closed_early": True}, skip)
        raise
    except BaseException as exc:
        call.fail(span, args, kwargs, exc, skip)
        raise


async def traced_async_generator(
    call: CallRecorder, generator: AsyncIterator[Any], args: Any, kwargs: Any, skip: int
) -> AsyncIterator[Any]:
    """The async counterpart of :func:`traced_generator`."""
    span = call.begin()
    if span is None:
        async for item in generator:
            yield item
        return
    span.suspend()
    sent: Any = None
    count = 0
    try:
        while True:
            token = CURRENT_SCOPE.set(span.scope)
            try:
                item = await generator.asend(sent)  # type: ignore[attr-defined]
            except StopAsyncIteration:
                call.succeed(span, args, kwargs, {"items": count}, skip)
                return
            finally:
                CURRENT_SCOPE.reset(token)
            count += 1
            sent = yield item
    except GeneratorExit:
        await generator.aclose()  # type: ignore[attr-defined]
        call.succeed(span, args, kwargs, {"items": count, "closed_early": True}, skip)
        raise
    except BaseException as exc:
        call.fail(span, args, kwargs, exc, skip)
        raise
