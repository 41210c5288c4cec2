"""@tt.instrument on every kind of callable; kinds; nesting; the user's exceptions; guards."""

from __future__ import annotations

import asyncio
import math
import traceback
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

import tradetrace as tt
from tradetrace import semconv as sc
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.pipeline.redaction import NON_FINITE_MARKER, REDACTED, REPR_MARKER


def records(rec: tt.Recorder, memory: MemoryExporter) -> list[tt.Record]:
    assert rec.flush(5)
    return sorted(memory.records, key=lambda r: r.seq)


def test_every_callable_flavour_is_recorded_with_bound_arguments(
    rec: tt.Recorder, memory: MemoryExporter
) -> None:
    class Strategy:
        @tt.instrument(recorder=rec)
        def method(self, a: int, b: int = 2) -> int:
            return a + b

        @tt.instrument(recorder=rec)
        @classmethod
        def klass(cls, c: int) -> int:
            return c

        @tt.instrument(recorder=rec)
        @staticmethod
        def static(d: int) -> int:
            return d

        @tt.instrument(recorder=rec)
        async def coroutine(self, e: int) -> int:
            await asyncio.sleep(0)
            return e

        @tt.instrument(recorder=rec)
        def generator(self, n: int) -> Iterator[int]:
            yield from range(n)

        @tt.instrument(recorder=rec)
        async def agenerator(self, n: int):  # type: ignore[no-untyped-def]
            for i in range(n):
                await asyncio.sleep(0)
                yield i

    @tt.instrument(recorder=rec)
    def function(x: int, *rest: int, **options: int) -> int:
        return x

    @tt.instrument
    def bare_decorator(y: int) -> int:  # no parentheses: global recorder
        return y

    s = Strategy()
    assert s.method(1, b=5) == 6
    assert Strategy.klass(3) == 3 and s.static(4) == 4 and Strategy.static(4) == 4
    assert asyncio.run(s.coroutine(7)) == 7
    assert list(s.generator(3)) == [0, 1, 2]

    async def consume() -> list[int]:
        return [i async for i in s.agenerator(2)]

    assert asyncio.run(consume()) == [0, 1]
    assert function(1, 2, 3, z=4) == 1
    got = {r.attributes[sc.CODE_FUNCTION]: r for r in records(rec, memory)}
    args = {name: r.attributes.get(sc.CALL_ARGUMENTS) for name, r in got.items()}
    assert args["test_every_callable_flavour_is_recorded_with_bound_arguments.<locals>"
                ".Strategy.method"] == {"a": 1, "b": 5}  # fmt: skip
    prefix = "test_every_callable_flavour_is_recorded_with_bound_arguments.<locals>."
    assert args[prefix + "Strategy.klass"] == {"c": 3}
    assert args[prefix + "Strategy.static"] == {"d": 4}
    assert args[prefix + "Strategy.coroutine"] == {"e": 7}
    assert got[prefix + "Strategy.generator"].attributes[sc.CALL_RESULT] == {"items": 3}
    assert got[prefix + "Strategy.agenerator"].attributes[sc.CALL_RESULT] == {"items": 2}
    assert args[prefix + "function"] == {"x": 1, "rest": [2, 3], "z": 4}
    assert all(r.kind == "span" and r.duration_ns is not None for r in got.values())
    assert bare_decorator.__name__ == "bare_decorator"  # wrapt keeps introspection
    tt.shutdown()


def test_nesting_follows_await_and_gather(rec: tt.Recorder, memory: MemoryExporter) -> None:
    @tt.instrument("quote", kind="decision", recorder=rec)
    async def quote(side: str) -> float:
        await asyncio.sleep(0.001)
        return 0.5

    @tt.instrument("cycle", recorder=rec)
    async def cycle() -> list[float]:
        return await asyncio.gather(quote("bid"), quote("ask"))

    asyncio.run(cycle())
    outer, *children = records(rec, memory)
    assert outer.name == "cycle" and len(children) == 2
    for child in children:
        assert child.parent_seq == outer.seq and child.parent_span_id == outer.span_id
        assert child.trace_id == outer.trace_id and child.seq > outer.seq


def test_decision_tuple_and_mapping_results_become_spreads(
    rec: tt.Recorder, memory: MemoryExporter
) -> None:
    @tt.instrument("spread_calculation", kind="decision", recorder=rec)
    def calculate_spread(gamma: float, sigma: float, k: float) -> tuple[float, float]:
        return 0.025, 0.03

    @tt.instrument("quotes", kind="decision", recorder=rec)
    def quotes() -> dict[str, Decimal]:
        return {"bid_spread": Decimal("0.01"), "ask_spread": Decimal("0.02"), "skew": 1}

    calculate_spread(0.1, 0.02, k=1.5)
    quotes()
    spread, mapping = records(rec, memory)
    a = spread.attributes
    assert spread.kind == "decision" and spread.name == "spread_calculation"
    assert a[sc.DECISION_INPUTS] == {"gamma": 0.1, "sigma": 0.02, "k": 1.5}
    assert a[sc.DECISION_RESULT] == [0.025, 0.03]
    assert (a[sc.DECISION_BID_SPREAD], a[sc.DECISION_ASK_SPREAD]) == (0.025, 0.03)
    assert mapping.attributes[sc.DECISION_BID_SPREAD] == Decimal("0.01")


@pytest.mark.parametrize(
    ("result", "passed", "reason", "severity"),
    [
        (True, True, None, "INFO"),
        (False, False, None, "CRITICAL"),
        ((False, "inventory 0.08 > 0.05"), False, "inventory 0.08 > 0.05", "CRITICAL"),
        ((True, "ok"), True, "ok", "INFO"),
    ],
)
def test_risk_check_results(
    rec: tt.Recorder, memory: MemoryExporter, result: object, passed: bool, reason: str | None,
    severity: str,
) -> None:  # fmt: skip
    @tt.instrument("inventory_limit", kind="risk_check", recorder=rec)
    def check() -> object:
        return result

    assert check() == result
    (record,) = records(rec, memory)
    assert record.kind == "risk_check" and record.severity == severity
    assert record.attributes[sc.RISK_PASSED] is passed
    assert record.attributes.get(sc.RISK_REASON) == reason
    assert record.status == ("ok" if passed else "failed")


def test_users_exception_is_recorded_and_reraised_unchanged(
    rec: tt.Recorder, memory: MemoryExporter
) -> None:
    class StrategyError(Exception):
        pass

    error = StrategyError("negative inventory")

    @tt.instrument("rebalance", recorder=rec)
    def rebalance(target: float) -> None:
        raise error

    with pytest.raises(StrategyError) as raised:
        rebalance(0.5)
    assert raised.value is error
    frames = [frame.name for frame in traceback.extract_tb(raised.value.__traceback__)]
    assert frames[-1] == "rebalance"  # the original raising frame is still there
    span, failure = records(rec, memory)
    assert span.status == "error" and span.attributes[sc.EXCEPTION_TYPE] == "StrategyError"
    assert span.attributes[sc.CALL_ARGUMENTS] == {"target": 0.5}
    assert failure.kind == "error" and failure.parent_seq == span.seq
    assert failure.attributes[sc.ERROR_TYPE] == "StrategyError"
    assert failure.attributes[sc.EXCEPTION_MESSAGE] == "negative inventory"
    assert "raise error" in failure.attributes[sc.EXCEPTION_STACKTRACE]


def test_extract_hook_maps_to_semconv_and_a_broken_one_never_raises(
    rec: tt.Recorder, memory: MemoryExporter
) -> None:
    @tt.instrument(
        kind="order",
        recorder=rec,
        extract=lambda args, result: {"order_id": result["id"], "venue": "SIM"},
    )
    def place(symbol: str, side: str, amount: float) -> dict[str, str]:
        return {"id": "o-1"}

    def broken(args: dict, result: object) -> dict:
        raise RuntimeError("hook bug")

    @tt.instrument(recorder=rec, extract=broken)
    def step() -> int:
        return 1

    assert place("BTC-USDT", "buy", 0.5) == {"id": "o-1"}
    assert step() == 1
    order, span = records(rec, memory)
    assert order.attributes[sc.ORDER_ID] == "o-1" and order.attributes[sc.LEDGER_VENUE] == "SIM"
    assert order.attributes[sc.ORDER_SIDE] == "BUY" and order.attributes[sc.SYMBOL] == "BTC-USDT"
    assert "extract hook failed: RuntimeError" in span.attributes[sc.INSTRUMENTATION_ERROR]
    assert rec.health()["internal_errors"]["extract_hook:step"] == 1


def test_hostile_arguments_and_non_finite_values_never_raise(
    rec: tt.Recorder, memory: MemoryExporter
) -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    @tt.instrument("spread", kind="decision", recorder=rec)
    def spread(value: object, sigma: float) -> float:
        return math.nan

    assert math.isnan(spread(Hostile(), math.inf))
    (record,) = records(rec, memory)
    inputs = record.attributes[sc.DECISION_INPUTS]
    assert inputs["value"].startswith(REPR_MARKER + "<Hostile with failing __repr__")
    assert inputs["sigma"] == NON_FINITE_MARKER + "inf"
    assert record.attributes[sc.DECISION_RESULT] == NON_FINITE_MARKER + "nan"


def test_sensitive_parameters_are_redacted(rec: tt.Recorder, memory: MemoryExporter) -> None:
    @tt.instrument(recorder=rec)
    def login(user: str, api_key: str, options: dict) -> str:
        return "token=CANARY-RESULT"

    login("bob", "CANARY-1", {"passphrase": "CANARY-2", "retries": 3})
    (record,) = records(rec, memory)
    assert "CANARY" not in repr(record.attributes)
    assert record.attributes[sc.CALL_ARGUMENTS]["api_key"] == REDACTED
    assert record.attributes[sc.CALL_ARGUMENTS]["options"]["retries"] == 3


def test_a_full_queue_never_raises_into_the_caller(tmp_path: Path) -> None:
    rec = tt.Recorder(exporters=(MemoryExporter(),), directory=tmp_path, queue_size=1,
                      batch_size=1000, schedule_delay=60, overflow="drop_newest")  # fmt: skip

    @tt.instrument(recorder=rec)
    def tick(i: int) -> int:
        return i

    assert [tick(i) for i in range(50)] == list(range(50))
    assert rec.health()["dropped"] == 49
    rec.shutdown(2)


def test_unknown_kind_is_refused_at_decoration_time() -> None:
    with pytest.raises(ValueError, match="kind='trade'"):
        tt.instrument("x", kind="trade")(lambda: None)
