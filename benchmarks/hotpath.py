"""Benchmark: the added cost of one instrumented call, against the floor and OpenTelemetry.

Run from the repository root: ``python benchmarks/hotpath.py [--quick]``. One run prints the
added cost per call (the call's time minus a bare call of the same function), median of 7 loops:

(a) the floor: a wrapt pass-through that appends one tuple to a deque;
(b) a client method under ``tt.auto_instrument`` recording a decision with three arguments and
    a two-tuple result;
(c) the same function under ``@tt.instrument(kind="decision")``;
(d) an OpenTelemetry SDK span with the same attributes, a BatchSpanProcessor and an exporter
    that discards.

Goals: (b) and (c) at most 2x (a) and at most 0.1x (d). tradetrace's exporter thread runs as in
production (a discarding exporter), so its share of the GIL is part of the measured cost;
"caller only" rows repeat (b) and (c) with the pipeline paused, i.e. the latency the trading
loop itself sees.
"""

from __future__ import annotations

import argparse
import collections
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import wrapt
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import tradetrace as tt
from tradetrace.records import Record


class DiscardingExporter(tt.BaseExporter):
    name = "discard"

    def export(self, batch: Sequence[Record]) -> tt.ExportResult:
        return tt.ExportResult.SUCCESS


class DiscardingSpanExporter(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def spread(gamma: float, sigma: float, k: float) -> tuple[float, float]:
    return 0.025, 0.03


class Client:
    def calculate_optimal_spread(self, gamma: float, sigma: float, k: float) -> tuple:
        return 0.025, 0.03


def per_call_ns(call: Callable[..., Any], loops: int, n: int, between: Callable[[], Any]) -> float:
    samples = []
    for _ in range(loops):
        between()
        start = time.perf_counter_ns()
        for _ in range(n):
            call(0.1, 0.02, 1.5)
        samples.append((time.perf_counter_ns() - start) / n)
    return statistics.median(samples)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls per loop")
    args = parser.parse_args(argv)
    n, loops = (5_000, 7) if args.quick else (50_000, 7)

    floor_log: collections.deque[tuple[Any, ...]] = collections.deque(maxlen=100_000)

    @wrapt.decorator
    def floor(wrapped: Any, instance: Any, a: Any, kw: Any) -> Any:
        result = wrapped(*a, **kw)
        floor_log.append((a, kw, result))
        return result

    rec = tt.Recorder(exporters=(DiscardingExporter(),), queue_size=1_000_000)
    client, bare_client = Client(), Client()
    tt.auto_instrument(client, recorder=rec)
    decorated = tt.instrument("spread_calculation", kind="decision", recorder=rec)(spread)

    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(DiscardingSpanExporter(), max_queue_size=1_000_000)
    )
    tracer = provider.get_tracer("bench")

    def otel_span(gamma: float, sigma: float, k: float) -> tuple[float, float]:
        with tracer.start_as_current_span("spread_calculation") as span:
            result = spread(gamma, sigma, k)
            span.set_attributes({"gamma": gamma, "sigma": sigma, "k": k,
                                 "bid_spread": result[0], "ask_spread": result[1]})  # fmt: skip
            return result

    def settle() -> None:
        rec.flush(30)
        provider.force_flush()
        gc.collect()

    bare = per_call_ns(spread, loops, n, settle)
    bare_method = per_call_ns(bare_client.calculate_optimal_spread, loops, n, settle)
    rows = {
        "(a) floor: wrapt pass-through + deque.append": per_call_ns(floor(spread), loops, n,
                                                                     settle) - bare,
        "(b) auto_instrument, decision": per_call_ns(client.calculate_optimal_spread, loops, n,
                                                     settle) - bare_method,
        "(c) @tt.instrument, decision": per_call_ns(decorated, loops, n, settle) - bare,
        "(d) OpenTelemetry SDK span, batch": per_call_ns(otel_span, loops, n, settle) - bare,
    }  # fmt: skip
    processor = rec._processor
    paused_drain = processor._drain
    processor._drain = lambda: None  # caller-only: nothing is exported while timing
    rows["(b) caller only"] = per_call_ns(client.calculate_optimal_spread, loops, n,
                                          gc.collect) - bare_method  # fmt: skip
    rows["(c) caller only"] = per_call_ns(decorated, loops, n, gc.collect) - bare
    processor._drain = paused_drain
    rec.flush(30)

    print(f"benchmarks/hotpath.py: tradetrace {tt.__version__}, Python {sys.version.split()[0]}, "
          f"{n} calls x {loops} loops, median; added ns per call")  # fmt: skip
    for label, value in rows.items():
        print(f"  {label:<48} {value / 1000:8.3f} µs")
    a = rows["(a) floor: wrapt pass-through + deque.append"]
    d = rows["(d) OpenTelemetry SDK span, batch"]
    print("\n  ratio                                            value   goal")
    for label in ("(b) auto_instrument, decision", "(c) @tt.instrument, decision"):
        vs_floor, vs_otel = rows[label] / a, rows[label] / d
        print(f"  {label[:3]} / (a)                                  {vs_floor:6.2f}   <= 2.0  "
              f"{'PASS' if vs_floor <= 2 else 'MISS'}")  # fmt: skip
        print(f"  {label[:3]} / (d)                                  {vs_otel:6.2f}   <= 0.1  "
              f"{'PASS' if vs_otel <= 0.1 else 'MISS'}")  # fmt: skip
    health = rec.shutdown(30)
    provider.shutdown()
    return 0 if health else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
