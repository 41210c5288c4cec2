"""Trading metrics derived from the records: exact snapshot and OTLP metrics at a real receiver."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from otlp_receiver import OtlpHttpReceiver, attributes

import tradetrace as tt
from tradetrace import semconv as sc
from tradetrace.exporters.otlp import OtlpExporter
from tradetrace.exporters.otlp_metrics import LATENCY_BUCKETS, TradingMetrics

START = 1_700_000_000_000_000_000
MS = 1_000_000


@pytest.fixture
def receiver() -> Iterator[OtlpHttpReceiver]:
    with OtlpHttpReceiver() as server:
        yield server


def _session(rec: tt.Recorder, clock: tt.SimulatedClock) -> None:
    @tt.instrument("spread_calculation", kind="decision", recorder=rec)
    def spread() -> tuple[float, float]:
        clock.advance(2 * MS)
        return 0.1, 0.2

    @tt.instrument("max_position", kind="risk_check", recorder=rec)
    def check() -> bool:
        clock.advance(MS // 2)
        return True

    spread()
    check()
    rec.record_order("submit", symbol="BTC-USDT", side="BUY", order_id="o-1", price="100",
                     quantity="2")  # fmt: skip
    clock.advance(250 * MS)
    for price, inventory, equity in (("100.1", "1", "1000.25"), ("100.2", "2", "1000.5")):
        rec.record_fill(symbol="BTC-USDT", side="BUY", price=price, quantity="1", fee="0.05",
                        fee_currency="USDT", order_id="o-1", inventory_after=inventory,
                        equity_after=equity)  # fmt: skip
    rec.record_fill(symbol="ETH-USDT", side="SELL", price="3000.123456789012345678",
                    quantity="0.5", fee="-0.01", fee_currency="USDT", inventory_after="-0.5",
                    client_order_id="c-2")  # a maker rebate  # fmt: skip
    # a fill recorded before its order record (the order's time is 100 ms earlier)
    rec.record_order("create_order", symbol="ETH-USDT", side="SELL", client_order_id="c-2",
                     time=clock.now_ns() - 100 * MS)  # fmt: skip
    rec.record_order("cancel_order", symbol="BTC-USDT", order_id="o-9")  # not a submission


def _recorder(exporter: OtlpExporter, tmp_path: Path) -> tuple[tt.Recorder, tt.SimulatedClock]:
    clock = tt.SimulatedClock(START)
    rec = tt.Recorder(
        service_name="metrics", exporters=(exporter,), directory=tmp_path, clock=clock,
        mode="backtest", run_id="run-1", deterministic=True, schedule_delay=0.01,
    )  # fmt: skip
    exporter.pipeline_counters = rec.health
    return rec, clock


def test_snapshot_is_exact(receiver: OtlpHttpReceiver, tmp_path: Path) -> None:
    exporter = OtlpExporter(receiver.url, metrics_interval=3600)
    rec, clock = _recorder(exporter, tmp_path)
    _session(rec, clock)
    assert rec.flush(10)
    snapshot = exporter.metrics()
    assert snapshot["fills"] == {
        "BTC-USDT": {"BUY": {"count": 2, "notional": Decimal("200.3"),
                             "fees": {"USDT": Decimal("0.10")}}},
        "ETH-USDT": {"SELL": {"count": 1, "notional": Decimal("1500.061728394506172839"),
                              "fees": {"USDT": Decimal("-0.01")}}},
    }  # fmt: skip
    assert snapshot["inventory"] == {"BTC-USDT": Decimal("2"), "ETH-USDT": Decimal("-0.5")}
    assert snapshot["equity"] == Decimal("1000.5")
    latency = snapshot["latency"]
    assert latency["order_round_trip"] == pytest.approx(
        {"count": 2, "sum": 0.35, "min": 0.1, "max": 0.25}
    )
    assert latency["decision"] == {
        "spread_calculation": {"count": 1, "sum": 0.002, "min": 0.002, "max": 0.002}
    }
    assert latency["risk_check"]["max_position"]["sum"] == 0.0005
    assert snapshot["pipeline"]["emitted"] == 8
    assert snapshot["pipeline"]["exporters"]["otlp"]["exported"] == 8
    assert snapshot["exporter"]["received"] == 8
    assert snapshot["exporter"]["signals"]["logs"]["exported"] == 3
    assert snapshot["exporter"]["signals"]["traces"]["exported"] == 5
    rec.shutdown(5)


def _points(metric: Any) -> dict[tuple[tuple[str, Any], ...], Any]:
    kind = metric.WhichOneof("data")
    return {
        tuple(sorted(attributes(point.attributes).items())): point
        for point in getattr(metric, kind).data_points
    }


def test_metrics_arrive_over_otlp(receiver: OtlpHttpReceiver, tmp_path: Path) -> None:
    exporter = OtlpExporter(receiver.url, metrics_interval=3600)
    rec, clock = _recorder(exporter, tmp_path)
    _session(rec, clock)
    assert rec.flush(10)  # the flush collects and sends the metrics
    found = receiver.received.metrics()
    btc_buy = ((sc.ORDER_SIDE, "BUY"), (sc.SYMBOL, "BTC-USDT"))
    eth_sell = ((sc.ORDER_SIDE, "SELL"), (sc.SYMBOL, "ETH-USDT"))

    fills = found["trading.fills"][-1]
    assert fills.sum.is_monotonic and fills.unit == "{fill}"
    assert {k: p.as_double for k, p in _points(fills).items()} == {btc_buy: 2.0, eth_sell: 1.0}
    notional = _points(found["trading.fill.notional"][-1])
    assert notional[btc_buy].as_double == pytest.approx(200.3)
    fees = found["trading.fees"][-1]
    assert not fees.sum.is_monotonic  # rebates make it go down
    fee_points = _points(fees)
    assert fee_points[((sc.FEE_CURRENCY, "USDT"), *eth_sell)].as_double == pytest.approx(-0.01)

    inventory = _points(found["trading.position.inventory"][-1])
    assert inventory[((sc.SYMBOL, "ETH-USDT"),)].as_double == -0.5
    (equity,) = _points(found["trading.position.equity"][-1]).values()
    assert equity.as_double == 1000.5

    (round_trip,) = _points(found["trading.order.round_trip.duration"][-1]).values()
    assert round_trip.count == 2 and round_trip.sum == pytest.approx(0.35)
    assert list(round_trip.explicit_bounds) == list(LATENCY_BUCKETS)
    decisions = _points(found["trading.decision.duration"][-1])
    assert decisions[((sc.DECISION_TYPE, "spread_calculation"),)].sum == pytest.approx(0.002)
    risk = _points(found["trading.risk_check.duration"][-1])
    assert risk[((sc.RISK_CHECK, "max_position"),)].count == 1

    (emitted,) = _points(found["tradetrace.pipeline.emitted"][-1]).values()
    assert emitted.as_int == 8
    lanes = _points(found["tradetrace.pipeline.exporter.exported"][-1])
    assert lanes[(("tradetrace.exporter", "otlp"),)].as_int == 8
    received = _points(found["tradetrace.otlp.exported"][-1])
    assert received[(("signal", "logs"),)].as_int == 3

    message = receiver.received.accepted("metrics")[-1]
    resource = attributes(message.resource_metrics[0].resource.attributes)
    assert resource["trading.run.id"] == "run-1" and resource["service.name"] == "metrics"
    assert resource["trading.mode"] == "backtest"
    rec.shutdown(5)


def test_metrics_are_sent_periodically_and_at_shutdown(
    receiver: OtlpHttpReceiver, tmp_path: Path
) -> None:
    exporter = OtlpExporter(receiver.url, metrics_interval=0.1)
    rec = tt.Recorder(service_name="tick", exporters=(exporter,), directory=tmp_path,
                      schedule_delay=0.01)  # fmt: skip
    rec.record_fill(symbol="BTC-USDT", side="BUY", price="1", quantity="1")
    assert receiver.received.wait_for(lambda r: r.count("metrics") >= 2, 5)
    before = receiver.received.count("metrics")
    rec.record_fill(symbol="BTC-USDT", side="BUY", price="1", quantity="1")
    assert rec.shutdown(5)
    assert receiver.received.count("metrics") > before
    fills = receiver.received.metrics()["trading.fills"][-1]
    assert [p.as_double for p in fills.sum.data_points] == [2.0]


def test_metrics_can_be_switched_off(receiver: OtlpHttpReceiver, tmp_path: Path) -> None:
    exporter = OtlpExporter(receiver.url, metrics=False)
    rec = tt.Recorder(service_name="off", exporters=(exporter,), directory=tmp_path,
                      schedule_delay=0.01)  # fmt: skip
    rec.record_fill(symbol="BTC-USDT", side="BUY", price="2", quantity="3")
    assert rec.shutdown(5)
    assert receiver.received.count("metrics") == 0
    assert exporter.metrics()["fills"]["BTC-USDT"]["BUY"]["notional"] == Decimal("6")


def test_a_failing_pipeline_hook_costs_only_its_own_metrics() -> None:
    metrics = TradingMetrics()

    def broken() -> dict[str, int]:
        raise RuntimeError("no")

    metrics.pipeline_counters = broken
    assert metrics.snapshot()["pipeline"] is None
