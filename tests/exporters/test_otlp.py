"""The OTLP exporter against a real OTLP/HTTP receiver that decodes with opentelemetry-proto."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber
from otlp_receiver import OtlpHttpReceiver, Received, attributes

import tradetrace as tt
from tradetrace import semconv as sc
from tradetrace.exporters.otlp import OtlpExporter, resolve_protocol
from tradetrace.exporters.otlp_convert import Converter, is_span, truncate
from tradetrace.exporters.registry import build_exporters
from tradetrace.records import Record

PRICE = "67500.123456789012345678"


@pytest.fixture
def receiver() -> Iterator[OtlpHttpReceiver]:
    with OtlpHttpReceiver() as server:
        yield server


def _recorder(exporter: OtlpExporter, tmp_path: Path, **settings: Any) -> tt.Recorder:
    return tt.Recorder(
        service_name="mm", exporters=(exporter,), directory=tmp_path, schedule_delay=0.01,
        **settings,
    )  # fmt: skip


def _by_seq(received: Received) -> dict[int, tuple[str, Any, dict[str, Any]]]:
    """seq -> ("span" | "log", message, attributes)."""
    found: dict[int, tuple[str, Any, dict[str, Any]]] = {}
    for signal, items in (("span", received.spans()), ("log", received.logs())):
        for _, item in items:
            values = attributes(item.attributes)
            found[values[sc.SEQ]] = (signal, item, values)
    return found


def _trading_session(rec: tt.Recorder) -> None:
    """A small session: a span with a decision, an order, a fill and a nested span; a failing
    instrumented call; a risk check and a ledger event outside any span."""

    @tt.instrument("quote", kind="decision", recorder=rec)
    def quote(mid: Decimal) -> dict[str, Decimal]:
        return {"bid_spread": Decimal("0.5"), "ask_spread": Decimal("0.7")}

    @tt.instrument("place", kind="order", recorder=rec)
    def place(symbol: str) -> None:
        raise ConnectionError("venue down")

    with rec.span("rebalance", symbol="BTC-USDT"):  # seq 1
        rec.record_decision("spread_calculation", inputs={"gamma": Decimal("0.1")},
                            result={"bid_spread": "0.5"}, reason="skew")  # 2  # fmt: skip
        rec.record_order("submit", symbol="BTC-USDT", side="BUY", order_id="o-1",
                         price=PRICE, quantity="0.001")  # 3  # fmt: skip
        rec.record_fill(symbol="BTC-USDT", side="BUY", price=PRICE, quantity="0.001",
                        fee="0.0125", fee_currency="USDT", order_id="o-1",
                        inventory_after="0.001", equity_after="10000.5")  # 4  # fmt: skip
        with rec.span("hedge"):  # 5
            quote(Decimal("67500"))  # 6
    with pytest.raises(ConnectionError):
        place("BTC-USDT")  # 7 (the call), 8 (its error record)
    rec.record_risk_check("max_position", passed=False, limit="1", observed="1.5",
                          reason="too long")  # 9  # fmt: skip
    rec.record_event("GAS_FEE_PAID", venue="ETHEREUM", token="ETH", amount="0.0021",
                     snapshot={"wallet": {"ETH": Decimal("1.5")}})  # 10  # fmt: skip


def test_records_arrive_as_spans_and_logs_with_links(
    receiver: OtlpHttpReceiver, tmp_path: Path
) -> None:
    exporter = OtlpExporter(receiver.url, metrics=False)
    rec = _recorder(exporter, tmp_path)
    _trading_session(rec)
    assert rec.shutdown(10)
    items = _by_seq(receiver.received)
    assert sorted(receiver.received.seqs()) == list(range(1, 11))  # every seq once, no gap

    kinds = {seq: signal for seq, (signal, _, _) in items.items()}
    assert kinds == {1: "span", 2: "log", 3: "span", 4: "log", 5: "span", 6: "span",
                     7: "span", 8: "log", 9: "log", 10: "log"}  # fmt: skip

    rebalance = items[1][1]
    hedge, quote, place = items[5][1], items[6][1], items[7][1]
    assert rebalance.name == "rebalance" and rebalance.parent_span_id == b""
    assert hedge.parent_span_id == rebalance.span_id
    assert quote.parent_span_id == hedge.span_id
    assert len({s.trace_id for s in (rebalance, hedge, quote)}) == 1
    assert rebalance.end_time_unix_nano >= hedge.end_time_unix_nano > hedge.start_time_unix_nano

    decision, fill = items[2][1], items[4][1]
    for log in (decision, fill):  # in the span they happened in
        assert log.span_id == rebalance.span_id and log.trace_id == rebalance.trace_id

    order = items[3][1]  # an explicit order: a point-in-time span of its own in the span
    assert order.parent_span_id == rebalance.span_id and order.trace_id == rebalance.trace_id
    assert order.span_id not in (b"", rebalance.span_id)
    assert order.start_time_unix_nano == order.end_time_unix_nano

    assert place.status.code == place.status.STATUS_CODE_ERROR
    assert place.status.message == "venue down"
    assert place.kind == place.SPAN_KIND_CLIENT
    (event,) = place.events
    details = attributes(event.attributes)
    assert event.name == "exception" and details["exception.type"] == "ConnectionError"
    assert details["exception.message"] == "venue down"
    assert "Traceback" in details["exception.stacktrace"]
    assert items[7][2]["error.type"] == "ConnectionError"
    error_log = items[8][1]
    assert error_log.span_id == place.span_id  # the error record happened inside the call
    assert error_log.severity_number == SeverityNumber.SEVERITY_NUMBER_ERROR

    risk, ledger = items[9][1], items[10][1]
    assert risk.span_id == b"" and risk.severity_text == "CRITICAL"
    assert risk.severity_number == SeverityNumber.SEVERITY_NUMBER_FATAL
    assert risk.body.string_value == (
        "risk check max_position FAILED: observed 1.5 vs limit 1 (too long)"
    )
    assert ledger.body.string_value == "GAS_FEE_PAID 0.0021 ETH on ETHEREUM [pending]"
    assert ledger.event_name == "trading.event" and fill.event_name == "trading.fill"


def test_attributes_are_semconv_with_exact_decimals(
    receiver: OtlpHttpReceiver, tmp_path: Path
) -> None:
    exporter = OtlpExporter(receiver.url, metrics=False)
    rec = _recorder(exporter, tmp_path)
    _trading_session(rec)
    assert rec.shutdown(10)
    items = _by_seq(receiver.received)
    for seq, (_, _, values) in items.items():
        assert values[sc.SEQ] == seq and values[sc.RUN_ID] == rec.run_id
    fill = items[4][2]
    assert fill[sc.FILL_PRICE] == PRICE  # digit for digit, as a string
    assert fill[sc.FILL_QUANTITY] == "0.001" and fill[sc.FEE_AMOUNT] == "0.0125"
    assert fill[sc.SYMBOL] == "BTC-USDT" and fill[sc.ORDER_SIDE] == "BUY"
    assert fill[sc.PARENT_SEQ] == 1 and fill[sc.RECORD_KIND] == "fill"
    assert items[4][1].body.string_value == (
        f"BUY 0.001 BTC-USDT @ {PRICE} fee 0.0125 USDT order o-1"
    )
    decision = items[2][2]
    assert decision[sc.DECISION_INPUTS] == '{"gamma":"0.1"}'  # nested: JSON, exact
    assert decision[sc.DECISION_BID_SPREAD] == "0.5"
    assert items[3][2][sc.ORDER_PRICE] == PRICE
    assert items[6][2][sc.DECISION_ASK_SPREAD] == "0.7"  # filled off the caller's thread
    snapshot = items[10][2][sc.LEDGER_WALLET_BALANCE_AFTER]
    assert snapshot == '{"wallet":{"ETH":"1.5"}}'
    assert sc.PARENT_SEQ not in items[10][2]


def test_resource_from_run_and_environment(
    receiver: OtlpHttpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=mm%20desk,service.name=ignored")
    exporter = OtlpExporter(receiver.url, metrics=False, resource_attributes={"region": "eu"})
    rec = _recorder(exporter, tmp_path, environment="prod", strategy="avellaneda")
    rec.record_fill(symbol="ETH-USDT", side="SELL", price="3000", quantity="1")
    assert rec.shutdown(10)
    (resource, _), = receiver.received.logs()  # fmt: skip
    assert resource == {
        "service.name": "mm",  # the run's name wins over OTEL_RESOURCE_ATTRIBUTES
        "service.version": tt.__version__,
        "deployment.environment.name": "prod",
        "trading.mode": "live",
        "trading.strategy": "avellaneda",
        "trading.clock.source": "wall",
        "trading.run.id": rec.run_id,
        "host.name": rec.run.host,
        "telemetry.sdk.name": "tradetrace",
        "telemetry.sdk.version": tt.__version__,
        "telemetry.sdk.language": "python",
        "team": "mm desk",
        "region": "eu",
    }


def test_environment_configures_endpoint_headers_and_per_signal_endpoint(
    receiver: OtlpHttpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OtlpHttpReceiver() as traces_only:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{traces_only.url}/v1/traces")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=secret%20key,x-b=2")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        rec = tt.Recorder(service_name="env", exporters=("otlp",), directory=tmp_path,
                          schedule_delay=0.01)  # fmt: skip
        with rec.span("s"):
            rec.record_fill(symbol="BTC-USDT", side="BUY", price=PRICE, quantity="1")
        assert rec.shutdown(10)
        assert [s.name for _, s in traces_only.received.spans()] == ["s"]
        assert receiver.received.count("traces") == 0
        (log_request,) = [r for r in receiver.received.requests if r.signal == "logs"]
        headers = {k.lower(): v for k, v in log_request.headers.items()}
        assert headers["x-honeycomb-team"] == "secret key" and headers["x-b"] == "2"
        assert headers["content-encoding"] == "gzip"
        assert receiver.received.count("metrics") >= 1  # metrics are on by default


def test_protocol_from_arguments_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_protocol(None, "traces") == "http/protobuf"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf")
    assert resolve_protocol(None, "traces") == "grpc"
    assert resolve_protocol(None, "logs") == "http/protobuf"
    assert resolve_protocol("http", "traces") == "http/protobuf"
    with pytest.raises(ValueError, match="http/json"):
        resolve_protocol("http/json", "traces")
    with pytest.raises(ValueError, match="compression"):
        OtlpExporter(compression="brotli")


def test_endpoint_is_a_base_url() -> None:
    exporter = OtlpExporter("http://collector:4318/", metrics=False)
    assert exporter.endpoints == {
        "traces": "http://collector:4318/v1/traces",
        "logs": "http://collector:4318/v1/logs",
    }
    exporter.shutdown(0)
    exporter = OtlpExporter("https://gw.example/otlp/v1/traces", metrics=False)
    assert exporter.endpoints["logs"] == "https://gw.example/otlp/v1/logs"
    exporter.shutdown(0)


def test_registry_builds_the_otlp_exporter(tmp_path: Path) -> None:
    (exporter,) = build_exporters(("otlp",), directory=tmp_path, service_name="x")
    assert isinstance(exporter, OtlpExporter) and exporter.name == "otlp"
    exporter.shutdown(1)


# --- conversion of values ----------------------------------------------------------------


def _record(kind: str, attrs: dict[str, Any], duration: int | None = None) -> Record:
    return Record(7, "run", kind, "n", 1_000, 2_000, duration, None, None, None, None,
                  (1, 2), "INFO", None, attrs)  # fmt: skip


def _converted(attrs: dict[str, Any], limit: int | None = 4096) -> tuple[dict[str, Any], int]:
    converter = Converter(limit)
    _, _, logs, count = converter.requests([_record("event", attrs)])
    assert logs is not None and count == 1
    log = logs.resource_logs[0].scope_logs[0].log_records[0]
    return attributes(log.attributes), converter.truncated


def test_values_keep_their_meaning() -> None:
    values, _ = _converted({
        "d": Decimal("1E-8"), "big": 2**70, "f": 0.1, "b": True, "i": -3, "none": None,
        "nested": {"a": [Decimal("1.50"), {"b": None}]}, "ints": [1, 2], "mixed": [1, "a"],
        "strs": ("x", "y"), "enum": sc.Side.BUY, "bad": "a\udcffb", "empty": [],
    })  # fmt: skip
    assert values["d"] == "0.00000001" and values["big"] == str(2**70)
    assert values["f"] == 0.1 and values["b"] is True and values["i"] == -3
    assert "none" not in values
    assert values["nested"] == '{"a":["1.50",{"b":null}]}'
    assert values["ints"] == [1, 2] and values["strs"] == ["x", "y"]
    assert values["mixed"] == '[1,"a"]' and values["enum"] == "BUY"
    assert values["bad"] == "a\\udcffb" and values["empty"] == []
    assert values[sc.RELATED_SEQS] == [1, 2]


def test_long_values_are_truncated_with_a_marker_never_dropped() -> None:
    values, truncated = _converted({"note": "x" * 5000, "snap": {"k": "y" * 5000}})
    assert len(values["note"]) == 4096 and values["note"].endswith("…[truncated 926 chars]")
    assert values["note"].startswith("x" * 4000)
    assert values["snap"].endswith("chars]") and len(values["snap"]) == 4096
    assert truncated == 2
    values, truncated = _converted({"note": "x" * 5000}, limit=None)
    assert values["note"] == "x" * 5000 and truncated == 0
    assert truncate("abcdef" * 20, 40) == "abcdefabcdefabcdef…[truncated 102 chars]"
    with pytest.raises(ValueError):
        Converter(4)


def test_which_records_are_spans() -> None:
    assert is_span(_record("order", {})) and is_span(_record("span", {}, 5))
    assert is_span(_record("decision", {}, 5)) and is_span(_record("event", {}, 5))
    assert not is_span(_record("decision", {})) and not is_span(_record("fill", {}))


def test_a_record_that_cannot_be_converted_is_counted_not_sent(
    receiver: OtlpHttpReceiver,
) -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    exporter = OtlpExporter(receiver.url, metrics=False)
    good, bad = _record("fill", {"a": 1}), _record("fill", {"a": Hostile()})
    good.seq = 1
    assert exporter.export([good, bad]) is tt.ExportResult.FAILURE
    assert receiver.received.seqs() == [1]
    assert exporter.counters()["conversion_errors"] == 1
    exporter.shutdown(2)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_ships_its_own_run(receiver: OtlpHttpReceiver, tmp_path: Path) -> None:
    exporter = OtlpExporter(receiver.url, metrics=False)
    rec = _recorder(exporter, tmp_path)
    rec.record_fill(symbol="BTC-USDT", side="BUY", price="1", quantity="1")
    assert rec.flush(10)
    pid = os.fork()
    if pid == 0:  # the child: new connections, its own run
        code = 1
        try:
            rec.record_fill(symbol="ETH-USDT", side="SELL", price="2", quantity="1")
            code = 0 if rec.shutdown(10) and exporter.counters()["received"] == 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    runs = {
        attributes(log.attributes)[sc.SYMBOL]: attributes(log.attributes)[sc.RUN_ID]
        for _, log in receiver.received.logs()
    }
    assert runs == {"BTC-USDT": rec.run_id, "ETH-USDT": f"{rec.run_id}-fork{pid}"}
    assert rec.shutdown(5)
