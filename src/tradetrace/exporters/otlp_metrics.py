"""Trading metrics derived from the record stream, for OTLP and for ``metrics()`` snapshots.

:class:`TradingMetrics` folds each exported batch into exact running totals (``Decimal``
arithmetic at 80 digits): fills, notional volume (``|price x quantity|``) and fees by symbol and
side, the latest inventory per symbol and equity, order round-trip latency (the first order
record of an order id to the first fill with that id) and the durations of instrumented
decisions and risk checks. :meth:`TradingMetrics.bind` publishes them as OpenTelemetry
instruments on a meter: observable counters and gauges read the totals at collection time,
latencies and durations are histograms in seconds. Counters of the exporter itself and, through
the ``pipeline_counters`` hook, of the pipeline that feeds it, are published as well.
"""

from __future__ import annotations

import decimal
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from tradetrace import semconv as sc
from tradetrace.records import Record

Counters = Callable[[], Mapping[str, Any]]

_CONTEXT = decimal.Context(prec=80)
#: Histogram bucket bounds in seconds: 100 µs to one minute.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)  # fmt: skip
#: Order record names that are not a submission (their time is not a round trip's start).
_NOT_SUBMIT = ("cancel", "fetch", "edit", "amend", "modify", "replace", "status", "update")
_PIPELINE_TOTALS = ("emitted", "dropped")
_LANE_TOTALS = ("exported", "failed", "dropped")


def exact(value: Any) -> Decimal:
    """A number as a Decimal (a float by its shortest repr, not its binary expansion)."""
    if type(value) is Decimal:
        return value
    if type(value) is float:
        return Decimal(repr(value))
    return Decimal(value) if type(value) is int else Decimal(str(value))


class Summary:
    """Count, sum, min and max of a histogram's values (seconds)."""

    __slots__ = ("count", "max", "min", "sum")

    def __init__(self) -> None:
        self.count = 0
        self.sum = 0.0
        self.min = float("inf")
        self.max = float("-inf")

    def add(self, value: float) -> None:
        self.count += 1
        self.sum += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def as_dict(self) -> dict[str, float | int | None]:
        if not self.count:
            return {"count": 0, "sum": 0.0, "min": None, "max": None}
        return {"count": self.count, "sum": self.sum, "min": self.min, "max": self.max}


class _Fills:
    __slots__ = ("count", "fees", "notional")

    def __init__(self) -> None:
        self.count = 0
        self.notional = Decimal(0)
        self.fees: dict[str, Decimal] = {}


class TradingMetrics:
    """Running totals over the records seen; see the module docstring."""

    def __init__(self, order_memory: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._memory = order_memory
        self._fills: dict[tuple[str, str], _Fills] = {}
        self._inventory: dict[str, Decimal] = {}
        self._equity: Decimal | None = None
        #: order key -> [submission time_ns], shared by an order's keys; [None] once matched
        self._submitted: OrderedDict[str, list[int | None]] = OrderedDict()
        self._early_fills: OrderedDict[str, int] = OrderedDict()
        self._round_trip = Summary()
        self._durations: dict[str, dict[str, Summary]] = {"decision": {}, "risk_check": {}}
        self._histograms: dict[str, Any] = {}
        self.exporter_counters: Counters | None = None
        self.pipeline_counters: Counters | None = None

    # --- folding records -----------------------------------------------------------------

    def observe(self, batch: Sequence[Record]) -> None:
        """Fold a batch into the totals (on the exporter's thread)."""
        with self._lock:
            for record in batch:
                kind = record.kind
                if kind == "fill":
                    self._fill(record)
                elif kind == "order":
                    self._order(record)
                elif kind in ("decision", "risk_check") and record.duration_ns is not None:
                    self._duration(kind, record)

    def _fill(self, record: Record) -> None:
        a = record.attributes
        symbol = str(a.get(sc.SYMBOL, ""))
        side = str(a.get(sc.ORDER_SIDE, ""))
        totals = self._fills.get((symbol, side))
        if totals is None:
            totals = self._fills[(symbol, side)] = _Fills()
        totals.count += 1
        price, quantity = a.get(sc.FILL_PRICE), a.get(sc.FILL_QUANTITY)
        if price is not None and quantity is not None:
            product = _CONTEXT.multiply(exact(price), exact(quantity))
            totals.notional = _CONTEXT.add(totals.notional, abs(product))
        fee = a.get(sc.FEE_AMOUNT)
        if fee is not None:
            currency = str(a.get(sc.FEE_CURRENCY) or "")
            totals.fees[currency] = _CONTEXT.add(totals.fees.get(currency, Decimal(0)), exact(fee))
        if a.get(sc.POSITION_INVENTORY_AFTER) is not None:
            self._inventory[symbol] = exact(a[sc.POSITION_INVENTORY_AFTER])
        if a.get(sc.POSITION_EQUITY_AFTER) is not None:
            self._equity = exact(a[sc.POSITION_EQUITY_AFTER])
        keys = _order_keys(a)
        if not keys:
            return
        for key in keys:
            cell = self._submitted.get(key)
            if cell is not None:
                if cell[0] is not None:  # the first fill of a submitted order
                    self._round_trip_done(cell, record.time_ns - cell[0])
                return  # else a later fill of an order already matched
        for key in keys:  # the fill arrived before its order record
            self._early_fills.setdefault(key, record.time_ns)
        while len(self._early_fills) > self._memory:
            self._early_fills.popitem(last=False)

    def _order(self, record: Record) -> None:
        keys = [k for k in _order_keys(record.attributes) if k not in self._submitted]
        if not keys or any(word in record.name.lower() for word in _NOT_SUBMIT):
            return
        cell = [record.time_ns]  # shared by the order id and the client order id
        for key in keys:
            self._submitted[key] = cell
        while len(self._submitted) > self._memory:
            self._submitted.popitem(last=False)
        for key in keys:
            filled_at = self._early_fills.pop(key, None)
            if filled_at is not None and cell[0] is not None:
                self._round_trip_done(cell, filled_at - record.time_ns)

    def _round_trip_done(self, cell: list[int | None], elapsed_ns: int) -> None:
        cell[0] = None
        if elapsed_ns < 0:
            return
        seconds = elapsed_ns / 1e9
        self._round_trip.add(seconds)
        histogram = self._histograms.get("round_trip")
        if histogram is not None:
            histogram.record(seconds)

    def _duration(self, kind: str, record: Record) -> None:
        seconds = (record.duration_ns or 0) / 1e9
        by_name = self._durations[kind]
        summary = by_name.get(record.name)
        if summary is None:
            summary = by_name[record.name] = Summary()
        summary.add(seconds)
        histogram = self._histograms.get(kind)
        if histogram is not None:
            key = sc.DECISION_TYPE if kind == "decision" else sc.RISK_CHECK
            histogram.record(seconds, {key: record.name})

    # --- reading -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Exact totals (Decimals), latency summaries (seconds) and counters, as plain dicts."""
        with self._lock:
            fills: dict[str, dict[str, Any]] = {}
            for (symbol, side), totals in self._fills.items():
                fills.setdefault(symbol, {})[side] = {
                    "count": totals.count,
                    "notional": totals.notional,
                    "fees": dict(totals.fees),
                }
            result: dict[str, Any] = {
                "fills": fills,
                "inventory": dict(self._inventory),
                "equity": self._equity,
                "latency": {
                    "order_round_trip": self._round_trip.as_dict(),
                    **{
                        kind: {name: s.as_dict() for name, s in by_name.items()}
                        for kind, by_name in self._durations.items()
                    },
                },
            }
        result["exporter"] = _call(self.exporter_counters)
        result["pipeline"] = _call(self.pipeline_counters)
        return result

    # --- OpenTelemetry instruments -------------------------------------------------------

    def bind(self, meter: Meter) -> None:
        """Create the instruments on ``meter``; observable ones read the totals when
        collected."""
        self._histograms = {
            "round_trip": meter.create_histogram(
                "trading.order.round_trip.duration", unit="s",
                description="Order submission to its first fill",
                explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
            ),
            "decision": meter.create_histogram(
                "trading.decision.duration", unit="s",
                description="Duration of instrumented decisions",
                explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
            ),
            "risk_check": meter.create_histogram(
                "trading.risk_check.duration", unit="s",
                description="Duration of instrumented risk checks",
                explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
            ),
        }  # fmt: skip
        meter.create_observable_counter(
            "trading.fills", [self._observe_fills("count")], unit="{fill}",
            description="Fills by symbol and side",
        )  # fmt: skip
        meter.create_observable_counter(
            "trading.fill.notional", [self._observe_fills("notional")], unit="1",
            description="Notional volume |price x quantity| in the quote currency",
        )  # fmt: skip
        meter.create_observable_up_down_counter(
            "trading.fees", [self._observe_fees], unit="1",
            description="Fees paid (negative: rebates) by symbol, side and fee currency",
        )  # fmt: skip
        meter.create_observable_gauge(
            "trading.position.inventory", [self._observe_inventory], unit="1",
            description="Inventory after the latest fill, by symbol",
        )  # fmt: skip
        meter.create_observable_gauge(
            "trading.position.equity", [self._observe_equity], unit="1",
            description="Account equity after the latest fill",
        )  # fmt: skip
        for outcome in ("received", "exported", "failed", "rejected"):
            meter.create_observable_counter(
                f"tradetrace.otlp.{outcome}", [self._observe_exporter(outcome)],
                unit="{record}", description=f"Records {outcome} by this OTLP exporter",
            )  # fmt: skip
        for total in _PIPELINE_TOTALS:
            meter.create_observable_counter(
                f"tradetrace.pipeline.{total}", [self._observe_pipeline(total)],
                unit="{record}", description=f"Records {total} by the pipeline",
            )  # fmt: skip
        meter.create_observable_gauge(
            "tradetrace.pipeline.queue_depth", [self._observe_pipeline("queue_depth")],
            unit="{record}", description="Records waiting in the pipeline's queue",
        )  # fmt: skip
        for total in _LANE_TOTALS:
            meter.create_observable_counter(
                f"tradetrace.pipeline.exporter.{total}", [self._observe_lanes(total)],
                unit="{record}", description=f"Records {total} per exporter of the pipeline",
            )  # fmt: skip

    def _observe_fills(self, field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> list[Observation]:
            with self._lock:
                return [
                    Observation(
                        float(getattr(totals, field)),
                        {sc.SYMBOL: symbol, sc.ORDER_SIDE: side},
                    )
                    for (symbol, side), totals in self._fills.items()
                ]

        return observe

    def _observe_fees(self, options: CallbackOptions) -> list[Observation]:
        with self._lock:
            return [
                Observation(
                    float(amount),
                    {sc.SYMBOL: symbol, sc.ORDER_SIDE: side, sc.FEE_CURRENCY: currency},
                )
                for (symbol, side), totals in self._fills.items()
                for currency, amount in totals.fees.items()
            ]

    def _observe_inventory(self, options: CallbackOptions) -> list[Observation]:
        with self._lock:
            return [Observation(float(v), {sc.SYMBOL: s}) for s, v in self._inventory.items()]

    def _observe_equity(self, options: CallbackOptions) -> list[Observation]:
        equity = self._equity
        return [] if equity is None else [Observation(float(equity))]

    def _observe_exporter(self, outcome: str) -> Callable[[CallbackOptions], list[Observation]]:
        def observe(options: CallbackOptions) -> list[Observation]:
            counters = _call(self.exporter_counters) or {}
            if outcome == "received":
                return [Observation(int(counters.get("received", 0)))]
            return [
                Observation(int(stats.get(outcome, 0)), {"signal": signal})
                for signal, stats in counters.get("signals", {}).items()
            ]

        return observe

    def _observe_pipeline(self, key: str) -> Callable[[CallbackOptions], list[Observation]]:
        def observe(options: CallbackOptions) -> list[Observation]:
            value = (_call(self.pipeline_counters) or {}).get(key)
            return [Observation(value)] if isinstance(value, (int, float)) else []

        return observe

    def _observe_lanes(self, key: str) -> Callable[[CallbackOptions], list[Observation]]:
        def observe(options: CallbackOptions) -> list[Observation]:
            lanes = (_call(self.pipeline_counters) or {}).get("exporters") or {}
            return [
                Observation(counts[key], {"tradetrace.exporter": name})
                for name, counts in lanes.items()
                if isinstance(counts, Mapping) and isinstance(counts.get(key), (int, float))
            ]

        return observe


def _order_keys(attributes: Mapping[str, Any]) -> list[str]:
    keys = []
    if attributes.get(sc.ORDER_ID) is not None:
        keys.append(f"id:{attributes[sc.ORDER_ID]}")
    if attributes.get(sc.ORDER_CLIENT_ID) is not None:
        keys.append(f"client:{attributes[sc.ORDER_CLIENT_ID]}")
    return keys


def _call(hook: Counters | None) -> Any:
    """A counters hook's answer; ``None`` when unset or failing (metrics never raise)."""
    if hook is None:
        return None
    try:
        return dict(hook())
    except Exception:
        return None
