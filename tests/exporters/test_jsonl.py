"""The JSON Lines exporter and ``export_json``, driven through a real Recorder.

Files are ``{tmp_path}/json/svc_{kind}s_{YYYYMMDD}.jsonl``: one object per record with every
field of the Record (``KEYS``) and all its attributes under their semconv keys
(``"trading.fill.price"``). ``export_json`` writes flat, seed-shaped objects with the CSV column
names instead. Every test shuts the Recorder down (or flushes it) and checks that no batch failed
before reading.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from recording import NASTY_TEXT as SHARED_NASTY_TEXT
from tradetrace import Recorder, SimulatedClock
from tradetrace import semconv as sc
from tradetrace.exporters.jsonl import JsonLinesExporter
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.exporters.rows import record_from_json
from tradetrace.pipeline.clock import to_ns

START = "2024-05-12T12:00:00Z"
CANARY = "sk-canary-7f3a9c"

# The keys of every JSON Lines object, in this order.
KEYS = [
    "seq",
    "run_id",
    "kind",
    "name",
    "time_ns",
    "datetime_utc",
    "observed_ns",
    "duration_ns",
    "trace_id",
    "span_id",
    "parent_span_id",
    "parent_seq",
    "related_seqs",
    "severity",
    "status",
    "attributes",
]

# DuckDB column types for ``read_json``: ``attributes`` stays JSON whatever keys it holds.
DUCKDB_COLUMNS = {
    "seq": "BIGINT",
    "run_id": "VARCHAR",
    "kind": "VARCHAR",
    "name": "VARCHAR",
    "time_ns": "BIGINT",
    "datetime_utc": "VARCHAR",
    "observed_ns": "BIGINT",
    "duration_ns": "BIGINT",
    "trace_id": "VARCHAR",
    "span_id": "VARCHAR",
    "parent_span_id": "VARCHAR",
    "parent_seq": "BIGINT",
    "related_seqs": "BIGINT[]",
    "severity": "VARCHAR",
    "status": "VARCHAR",
    "attributes": "JSON",
}


# --- helpers ---------------------------------------------------------------------------------


def new_recorder(
    directory: Path, clock: SimulatedClock, service_name: str = "svc", **kwargs: Any
) -> Recorder:
    kwargs.setdefault("exporters", ("csv", "jsonl"))
    return Recorder(
        service_name=service_name,
        directory=directory,
        clock=clock,
        mode="backtest",
        **kwargs,
    )


def check_health(rec: Recorder) -> None:
    health = rec.health()
    assert "jsonl" in health["exporters"]
    for counters in health["exporters"].values():
        assert counters == {
            "exported": health["emitted"],
            "failed": 0,
            "dropped": 0,
            "pending": 0,
        }, health
    assert health["internal_errors"] == {}


def close(rec: Recorder) -> None:
    """Shut down and insist that every record reached both exporters."""
    assert rec.shutdown()
    check_health(rec)


def fill(rec: Recorder, **kwargs: Any) -> int:
    arguments: dict[str, Any] = {"symbol": "BTC-USDT", "side": "buy", "price": 1, "quantity": 1}
    arguments.update(kwargs)
    return rec.record_fill(**arguments)


def read_lines(path: Path) -> list[dict[str, Any]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw.decode("utf-8").split("\n")[:-1]]


def symbol_of(item: dict[str, Any]) -> Any:
    return item["attributes"]["trading.symbol"]


def sql_path(path: Path) -> str:
    return path.as_posix().replace("'", "''")


def read_jsonl_sql(pattern: str) -> str:
    """A DuckDB ``read_json`` over ``pattern`` (already SQL-escaped) with fixed column types."""
    columns = ", ".join(f"'{key}': '{kind}'" for key, kind in DUCKDB_COLUMNS.items())
    return f"read_json('{pattern}', format = 'newline_delimited', columns = {{{columns}}})"


def attr(key: str) -> str:
    """SQL for the text of attribute ``key`` of a row read by ``read_jsonl_sql``."""
    return f"""json_extract_string(attributes, '$."{key}"')"""


def fills_jsonl(directory: Path, day: str = "20240512") -> Path:
    return directory / "json" / f"svc_fills_{day}.jsonl"


def jsonl_exporter(rec: Recorder) -> JsonLinesExporter:
    [exporter] = [e for e in rec.exporters if isinstance(e, JsonLinesExporter)]
    return exporter


# --- rotation and layout ---------------------------------------------------------------------


@pytest.mark.parametrize("flush_between", [False, True], ids=["one-batch", "two-batches"])
def test_files_rotate_at_utc_midnight_of_event_time(tmp_path: Path, flush_between: bool) -> None:
    clock = SimulatedClock("2024-05-12T23:59:59.5Z")
    rec = new_recorder(tmp_path, clock)
    fill(rec, symbol="A")
    clock.advance_to(to_ns("2024-05-13T00:00:00Z") - 1)  # last nanosecond of the 12th
    fill(rec, symbol="B")
    if flush_between:
        assert rec.flush()
    clock.advance_to("2024-05-13T00:00:00Z")
    fill(rec, symbol="C")
    clock.advance(timedelta(hours=1))
    fill(rec, symbol="D")
    close(rec)

    names = sorted(p.name for p in (tmp_path / "json").iterdir())
    assert names == ["svc_fills_20240512.jsonl", "svc_fills_20240513.jsonl", "svc_runs.jsonl"]
    day1 = read_lines(fills_jsonl(tmp_path, "20240512"))
    day2 = read_lines(fills_jsonl(tmp_path, "20240513"))
    assert [(o["seq"], symbol_of(o), o["datetime_utc"], o["kind"]) for o in day1] == [
        (1, "A", "2024-05-12T23:59:59.500000000Z", "fill"),
        (2, "B", "2024-05-12T23:59:59.999999999Z", "fill"),
    ]
    assert [(o["seq"], symbol_of(o), o["datetime_utc"], o["kind"]) for o in day2] == [
        (3, "C", "2024-05-13T00:00:00.000000000Z", "fill"),
        (4, "D", "2024-05-13T01:00:00.000000000Z", "fill"),
    ]
    assert day1[1]["time_ns"] == to_ns("2024-05-13T00:00:00Z") - 1
    assert day2[0]["time_ns"] == to_ns("2024-05-13T00:00:00Z")


def test_going_back_to_an_earlier_day_appends_to_its_file(tmp_path: Path) -> None:
    clock = SimulatedClock("2024-05-01T12:00:00Z")
    rec = new_recorder(tmp_path, clock)
    for day in range(20):  # more days than the exporter keeps open
        fill(rec, symbol=f"D{day}")
        clock.advance(timedelta(days=1))
    assert rec.flush()
    clock.set("2024-05-01T18:00:00Z")
    fill(rec, symbol="BACK")
    close(rec)

    assert len(list((tmp_path / "json").glob("svc_fills_*.jsonl"))) == 20
    items = read_lines(fills_jsonl(tmp_path, "20240501"))
    assert [symbol_of(o) for o in items] == ["D0", "BACK"]


def test_every_object_has_every_field_in_order_and_every_attribute(tmp_path: Path) -> None:
    clock = SimulatedClock(START)
    rec = new_recorder(tmp_path, clock)
    with rec.span("rebalance", symbol="BTC-USDT") as span:
        clock.advance(timedelta(microseconds=3))
        fill(
            rec,
            price=Decimal("67500.10"),
            quantity=Decimal("0.5"),
            fee=Decimal("0.01"),
            fee_currency="USDT",
            venue="binance",
            notes="n",
            strategy_leg="A",
        )
        clock.advance(timedelta(microseconds=2))
    rec.record_order(
        "new",
        symbol="ETH-USDT",
        side="sell",
        order_type="limit",
        price=Decimal("3000.5"),
        quantity=2,
        order_id="o-2",
        status="open",
        post_only=True,
    )
    rec.record_decision("quote", inputs={"mid": 1}, result="hold", reason="flat")
    rec.record_risk_check("max_position", passed=True, limit=5, observed=Decimal("1.5"))
    rec.record_error("venue_down", message="timeout", recovery_action="retry", retryable=True)
    rec.record_event(
        "DEPOSIT", venue="binance", token="USDT", amount=Decimal("100"), tx_hash="0xabc"
    )
    close(rec)

    expected = {
        "span": (1, "rebalance", "ok", {"trading.symbol": "BTC-USDT"}),
        "fill": (
            2,
            "fill",
            None,
            {
                "trading.symbol": "BTC-USDT",
                "trading.order.side": "BUY",
                "trading.fill.price": "67500.10",
                "trading.fill.quantity": "0.5",
                "trading.fee.amount": "0.01",
                "trading.fee.currency": "USDT",
                "trading.ledger.venue": "binance",
                "trading.notes": "n",
                "strategy_leg": "A",
            },
        ),
        "order": (
            3,
            "new",
            None,
            {
                "trading.symbol": "ETH-USDT",
                "trading.order.side": "SELL",
                "trading.order.type": "limit",
                "trading.order.id": "o-2",
                "trading.order.status": "open",
                "trading.order.price": "3000.5",
                "trading.order.quantity": 2,
                "trading.order.post_only": True,
            },
        ),
        "decision": (
            4,
            "quote",
            None,
            {
                "trading.decision.type": "quote",
                "trading.decision.inputs": {"mid": 1},
                "trading.decision.result": "hold",
                "trading.decision.reason": "flat",
            },
        ),
        "risk_check": (
            5,
            "max_position",
            "ok",
            {
                "trading.risk.check": "max_position",
                "trading.risk.passed": True,
                "trading.risk.limit": 5,
                "trading.risk.observed": "1.5",
            },
        ),
        "error": (
            6,
            "venue_down",
            None,
            {
                "error.type": "venue_down",
                "trading.error.message": "timeout",
                "trading.error.recovery_action": "retry",
                "trading.error.retryable": True,
            },
        ),
        "event": (
            7,
            "DEPOSIT",
            "completed",
            {
                "trading.event.type": "DEPOSIT",
                "trading.ledger.venue": "binance",
                "trading.ledger.token": "USDT",
                "trading.ledger.amount": "100",
                "trading.ledger.tx_hash": "0xabc",
            },
        ),
    }
    items = {}
    for kind in sc.RecordKind:
        [item] = read_lines(tmp_path / "json" / f"svc_{sc.KIND_FILE_STEM[kind]}_20240512.jsonl")
        assert list(item) == KEYS
        assert (item["seq"], item["kind"], item["name"], item["status"], item["attributes"]) == (
            expected[kind.value][0],
            kind.value,
            *expected[kind.value][1:],
        )
        assert item["run_id"] == rec.run_id
        assert isinstance(item["observed_ns"], int)
        items[kind.value] = item
    assert set(items) == set(expected)

    span_item, fill_item = items["span"], items["fill"]
    assert span_item["time_ns"] == 1715515200000000000
    assert span_item["datetime_utc"] == "2024-05-12T12:00:00.000000000Z"
    assert isinstance(span_item["duration_ns"], int) and span_item["duration_ns"] > 0
    assert len(span_item["trace_id"]) == 32 and len(span_item["span_id"]) == 16
    assert span_item["trace_id"] == format(int(span_item["trace_id"], 16), "032x")
    assert (span_item["parent_span_id"], span_item["parent_seq"]) == (None, None)
    assert span_item["severity"] == "INFO"
    assert fill_item["time_ns"] == 1715515200000003000
    assert fill_item["datetime_utc"] == "2024-05-12T12:00:00.000003000Z"
    assert (fill_item["trace_id"], fill_item["span_id"]) == (
        span_item["trace_id"],
        span_item["span_id"],
    )
    assert fill_item["parent_seq"] == span.seq == 1
    for item in items.values():
        if item is not span_item:
            assert item["duration_ns"] is None
        if item is not fill_item and item is not span_item:
            assert (item["trace_id"], item["span_id"], item["parent_seq"]) == (None, None, None)
        assert item["parent_span_id"] is None
        assert item["related_seqs"] is None


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_text_is_kept_raw(tmp_path: Path, prefix: str) -> None:
    text = prefix + 'HYPERLINK("http://evil.example","x")'
    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(rec, symbol=prefix + "PERP", notes=text, leg=text, realized_pnl=Decimal("-0.5"))
    rec.record_decision("quote", result=text, reason=text)
    close(rec)

    [item] = read_lines(fills_jsonl(tmp_path))
    assert item["attributes"] == {
        "trading.symbol": prefix + "PERP",
        "trading.order.side": "BUY",
        "trading.fill.price": 1,
        "trading.fill.quantity": 1,
        "trading.fill.realized_pnl": "-0.5",
        "trading.notes": text,
        "leg": text,
    }
    [decision] = read_lines(tmp_path / "json" / "svc_decisions_20240512.jsonl")
    assert decision["attributes"] == {
        "trading.decision.type": "quote",
        "trading.decision.result": text,
        "trading.decision.reason": text,
    }
    for path in (tmp_path / "json").glob("*.jsonl"):
        assert b"'" + prefix.encode() not in path.read_bytes()
        assert b"\"'" not in path.read_bytes()


NASTY_TEXT = [*SHARED_NASTY_TEXT, "=1+1"]


def test_unicode_newlines_quotes_and_commas_round_trip(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    for text in NASTY_TEXT:
        fill(rec, symbol="日本語 🚀", notes=text, comment=text)
    close(rec)

    path = fills_jsonl(tmp_path)
    raw = path.read_bytes()
    assert raw.count(b"\n") == len(NASTY_TEXT)  # newlines inside values are escaped
    assert "日本語 🚀".encode() in raw  # UTF-8, not \u escapes
    items = read_lines(path)
    assert [o["attributes"] for o in items] == [
        {
            "trading.symbol": "日本語 🚀",
            "trading.order.side": "BUY",
            "trading.fill.price": 1,
            "trading.fill.quantity": 1,
            "trading.notes": text,
            "comment": text,
        }
        for text in NASTY_TEXT
    ]
    got = duckdb.sql(
        f"SELECT seq, {attr('trading.symbol')}, {attr('trading.notes')} "
        f"FROM {read_jsonl_sql(sql_path(path))} ORDER BY seq"
    ).fetchall()
    assert got == [(n, "日本語 🚀", text) for n, text in enumerate(NASTY_TEXT, 1)]


DECIMALS: list[tuple[Any, str]] = [
    (Decimal("67500.123456789012345678"), "67500.123456789012345678"),
    (Decimal("0.000000000000000001"), "0.000000000000000001"),
    (Decimal("1E-7"), "0.0000001"),
    (Decimal("12345678901234567890.123456789"), "12345678901234567890.123456789"),
    ("12345678901234567890.123456789", "12345678901234567890.123456789"),
    (Decimal("1.50"), "1.50"),
    (Decimal("1E+3"), "1000"),
    (Decimal("-0.000000000000000001"), "-0.000000000000000001"),
]


def test_decimals_are_exact_strings(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    for value, _ in DECIMALS:
        fill(rec, price=value, quantity=Decimal("1E-18"), extra={"v": value})
    close(rec)

    path = fills_jsonl(tmp_path)
    expected = [text for _, text in DECIMALS]
    items = read_lines(path)
    assert [o["attributes"] for o in items] == [
        {
            "trading.symbol": "BTC-USDT",
            "trading.order.side": "BUY",
            "trading.fill.price": text,
            "trading.fill.quantity": "0.000000000000000001",
            "extra": {"v": text},
        }
        for text in expected
    ]
    assert b'"trading.fill.price":"0.0000001"' in path.read_bytes()
    price = attr("trading.fill.price")
    got = duckdb.sql(
        f"SELECT {price}, CAST({price} AS DECIMAL(38, 18)) "
        f"FROM {read_jsonl_sql(sql_path(path))} ORDER BY seq"
    ).fetchall()
    assert got == [(text, Decimal(text)) for text in expected]


def test_booleans_ints_and_floats_are_json_values(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock("2024-05-12T12:00:00.25Z"))
    rec.record_risk_check("max_position", passed=True, limit=0.1, observed=0.1 + 0.2)
    rec.record_risk_check("max_drawdown", passed=False, limit=3, observed=1e-07)
    close(rec)

    path = tmp_path / "json" / "svc_risk_checks_20240512.jsonl"
    items = read_lines(path)
    assert [o["attributes"] for o in items] == [
        {
            "trading.risk.check": "max_position",
            "trading.risk.passed": True,
            "trading.risk.limit": 0.1,
            "trading.risk.observed": 0.30000000000000004,
        },
        {
            "trading.risk.check": "max_drawdown",
            "trading.risk.passed": False,
            "trading.risk.limit": 3,
            "trading.risk.observed": 1e-07,
        },
    ]
    assert [o["time_ns"] for o in items] == [1715515200250000000, 1715515200250000000]
    assert [o["datetime_utc"] for o in items] == ["2024-05-12T12:00:00.250000000Z"] * 2
    first, second = path.read_bytes().split(b"\n")[:2]
    assert b'"time_ns":1715515200250000000,' in first
    assert b'"trading.risk.passed":true,' in first
    assert b'"trading.risk.limit":0.1,' in first
    assert b'"trading.risk.observed":0.30000000000000004}' in first
    assert b'"trading.risk.passed":false,' in second
    assert b'"trading.risk.limit":3,' in second
    assert b'"trading.risk.observed":1e-7}' in second


def test_duckdb_reads_the_jsonl_files(tmp_path: Path) -> None:
    clock = SimulatedClock("2024-05-12T22:00:00Z")
    rec = new_recorder(tmp_path, clock)
    symbols = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "BTC-USDT", "XRP-USDT"]
    seqs, times = [], []
    for symbol in symbols:
        seqs.append(fill(rec, symbol=symbol, price="100.5"))
        times.append(clock.now_ns())
        clock.advance(timedelta(minutes=45))  # the last two land on the 13th
    close(rec)

    folder = sql_path(tmp_path / "json")
    got = duckdb.sql(
        f"SELECT seq, kind, {attr('trading.symbol')}, {attr('trading.order.side')}, "
        f"{attr('trading.fill.price')}, CAST({attr('trading.fill.price')} AS DECIMAL(18, 3)), "
        f"{attr('trading.fill.quantity')}, run_id, time_ns "
        f"FROM {read_jsonl_sql(folder + '/svc_fills_*.jsonl')} ORDER BY seq"
    ).fetchall()
    assert got == [
        (seq, "fill", symbol, "BUY", "100.5", Decimal("100.5"), "1", rec.run_id, ns)
        for seq, symbol, ns in zip(seqs, symbols, times, strict=True)
    ]
    day2 = duckdb.sql(
        f"SELECT count(*), min(seq), max(seq) "
        f"FROM {read_jsonl_sql(folder + '/svc_fills_20240513.jsonl')}"
    ).fetchall()
    assert day2 == [(2, 4, 5)]
    # With types inferred, attributes is a STRUCT keyed by semconv key.
    inferred = duckdb.sql(
        f'SELECT seq, attributes."trading.symbol", attributes."trading.fill.price" '
        f"FROM read_json_auto('{folder}/svc_fills_*.jsonl') ORDER BY seq"
    ).fetchall()
    assert inferred == [(seq, symbol, "100.5") for seq, symbol in zip(seqs, symbols, strict=True)]


# --- attributes and redaction ----------------------------------------------------------------


def test_attributes_object_and_redaction(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(
        rec,
        venue="binance",
        strategy_leg="A",
        api_key=CANARY,
        creds={"api_secret": CANARY, "nested": [{"password": CANARY, "ok": 1}]},
    )
    rec.record_decision("quote", inputs={"apiKey": CANARY, "mid": 1})
    rec.record_event("DEPOSIT", amount=1, signature=CANARY, memo="hi")
    close(rec)

    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    [item] = read_lines(fills_jsonl(tmp_path))
    assert item["attributes"] == {
        "trading.symbol": "BTC-USDT",
        "trading.order.side": "BUY",
        "trading.fill.price": 1,
        "trading.fill.quantity": 1,
        "trading.ledger.venue": "binance",
        "strategy_leg": "A",
        "api_key": "[REDACTED]",
        "creds": {"api_secret": "[REDACTED]", "nested": [{"password": "[REDACTED]", "ok": 1}]},
    }
    [decision] = read_lines(tmp_path / "json" / "svc_decisions_20240512.jsonl")
    assert decision["attributes"] == {
        "trading.decision.type": "quote",
        "trading.decision.inputs": {"apiKey": "[REDACTED]", "mid": 1},
    }
    [event] = read_lines(tmp_path / "json" / "svc_events_20240512.jsonl")
    assert event["attributes"] == {
        "trading.event.type": "DEPOSIT",
        "trading.ledger.amount": 1,
        "signature": "[REDACTED]",
        "memo": "hi",
    }


# --- back to Records --------------------------------------------------------------------------


def test_record_from_json_rebuilds_the_recorded_records(tmp_path: Path) -> None:
    memory = MemoryExporter()
    clock = SimulatedClock(START)
    rec = new_recorder(tmp_path, clock, exporters=("jsonl", memory))
    with rec.span("rebalance", symbol="BTC-USDT"):
        clock.advance(timedelta(milliseconds=1))
        with rec.bundle("ATOMIC_LEVERAGE_ENTRY", venue="aave", net_result={"eth": "1.5"}):
            clock.advance(timedelta(milliseconds=1))
            first = fill(
                rec,
                price=Decimal("67500.123456789012345678"),
                quantity=Decimal("0.0015"),
                fee=Decimal("-0.000000000000000001"),
                fee_currency="USDT",
                liquidity_side="maker",
                realized_pnl=Decimal("1E+3"),
                venue="binance",
                notes="日本語 🚀\nline two",
                strategy_leg="A",
                tags=["x", 1, 2.5, True, None],
                depth={"bid": [1, 2], "ask": {"size": 0.25}},
            )
        decision = rec.record_decision(
            "quote",
            inputs={"mid": 1.5, "ok": True},
            result={"bid_spread": "0.0001", "ask_spread": 0.0002},
            related=[first],
        )
    rec.record_order("new", symbol="ETH-USDT", side="sell", price="3000.5", quantity=2)
    rec.record_risk_check(
        "max_position", passed=False, limit=3, observed=0.1 + 0.2, parent=decision
    )
    try:
        raise ValueError("boom")
    except ValueError as exc:
        rec.record_error("venue_down", exception=exc, retryable=True)
    rec.record_event(
        "DEPOSIT",
        amount=10**21,
        gas_units=2**63 - 1,
        related=[first, decision],
        time="2024-05-13T00:00:00Z",
    )
    close(rec)

    rebuilt = [
        record_from_json(item)
        for path in sorted((tmp_path / "json").glob("svc_*_2024051?.jsonl"))
        for item in read_lines(path)
    ]
    rebuilt.sort(key=lambda record: record.seq)
    recorded = sorted(memory.records, key=lambda record: record.seq)
    assert [r.seq for r in rebuilt] == list(range(1, 9))
    assert [r.kind for r in rebuilt] == [
        "span",
        "event",
        "fill",
        "decision",
        "order",
        "risk_check",
        "error",
        "event",
    ]
    assert rebuilt == recorded
    [fill_record] = [r for r in rebuilt if r.kind == "fill"]
    assert fill_record.attributes["trading.fill.price"] == Decimal("67500.123456789012345678")
    assert type(fill_record.attributes["trading.fill.price"]) is Decimal
    assert type(fill_record.attributes["trading.fee.amount"]) is Decimal
    assert fill_record.attributes["trading.fee.amount"] == Decimal("-0.000000000000000001")
    assert fill_record.parent_seq == 2
    assert fill_record.trace_id == rebuilt[0].trace_id is not None
    assert fill_record.span_id == rebuilt[1].span_id is not None
    assert rebuilt[1].parent_span_id == rebuilt[0].span_id
    assert rebuilt[3].related_seqs == (first,)
    assert rebuilt[5].parent_seq == decision
    assert "boom" in rebuilt[6].attributes["exception.stacktrace"]
    assert rebuilt[7].related_seqs == (first, decision)
    assert rebuilt[7].attributes["trading.ledger.amount"] == Decimal(10**21)
    assert rebuilt[0].duration_ns is not None and rebuilt[2].duration_ns is None


# --- export_json -----------------------------------------------------------------------------


def _record_window(tmp_path: Path) -> Recorder:
    """Seqs 1-6 at times out of seq order, over two UTC days."""
    rec = new_recorder(tmp_path, SimulatedClock("2024-05-12T20:00:00Z"))
    fill(rec, symbol="S1", time="2024-05-13T00:30:00Z", price=Decimal("1E-7"))
    rec.record_decision("quote", result="hold", time="2024-05-12T23:00:00Z")
    fill(rec, symbol="S3", time="2024-05-12T23:30:00Z")
    rec.record_error("venue_down", message="timeout", time="2024-05-12T23:30:00Z")
    fill(rec, symbol="S5", time="2024-05-13T01:00:00Z")
    fill(rec, symbol="S6", time=to_ns("2024-05-12T23:00:00Z") - 1)
    assert rec.flush()
    check_health(rec)
    return rec


def test_export_json_filters_by_time_and_kind_and_orders_by_time(tmp_path: Path) -> None:
    rec = _record_window(tmp_path)
    exporter = jsonl_exporter(rec)
    target = tmp_path / "out" / "window.json"
    count = exporter.export_json(
        target,
        start="2024-05-12T23:00:00Z",  # inclusive: seq 2 is exactly here
        end=datetime(2024, 5, 13, 1, tzinfo=timezone.utc),  # exclusive: seq 5 is exactly here
        kinds=["fill", "decision"],
    )
    close(rec)

    data = json.loads(target.read_bytes())
    assert isinstance(data, list)
    assert count == len(data) == 3
    assert [(o["seq"], o["kind"]) for o in data] == [(2, "decision"), (3, "fill"), (1, "fill")]
    for item in data:  # flat and seed-shaped: the CSV columns of its kind, in order
        assert list(item) == list(sc.KIND_COLUMNS[sc.RecordKind(item["kind"])])
    assert (data[0]["decision_type"], data[0]["result"], data[0]["parameters"]) == (
        "quote",
        "hold",
        None,
    )
    assert (data[1]["symbol"], data[1]["side"], data[1]["price"], data[1]["size"]) == (
        "S3",
        "BUY",
        1,
        1,
    )
    assert (data[1]["timestamp"], data[1]["attributes"], data[1]["run_id"]) == (
        1715556600.0,
        None,
        rec.run_id,
    )
    assert (data[2]["symbol"], data[2]["price"]) == ("S1", "0.0000001")
    assert data[2]["datetime_utc"] == "2024-05-13T00:30:00.000000000Z"


def test_export_json_without_filters_takes_everything_in_time_then_seq_order(
    tmp_path: Path,
) -> None:
    rec = _record_window(tmp_path)
    exporter = jsonl_exporter(rec)
    everything = tmp_path / "all.json"
    errors = tmp_path / "errors.json"
    assert exporter.export_json(everything) == 6
    assert exporter.export_json(errors, kinds=["error"]) == 1
    assert exporter.export_json(tmp_path / "none.json", start="2024-05-14T00:00:00Z") == 0
    close(rec)

    data = json.loads(everything.read_bytes())
    assert [o["seq"] for o in data] == [6, 2, 3, 4, 1, 5]
    assert [o["time_ns"] for o in data] == sorted(o["time_ns"] for o in data)
    assert [o["seq"] for o in json.loads(errors.read_bytes())] == [4]
    assert json.loads((tmp_path / "none.json").read_bytes()) == []


def test_export_json_ignores_other_services_in_the_same_directory(tmp_path: Path) -> None:
    rec = _record_window(tmp_path)
    other = new_recorder(tmp_path, SimulatedClock("2024-05-12T23:15:00Z"), service_name="svc_b")
    fill(other, symbol="OTHER")
    close(other)
    assert (tmp_path / "json" / "svc_b_fills_20240512.jsonl").exists()

    target = tmp_path / "mine.json"
    assert jsonl_exporter(rec).export_json(target) == 6
    close(rec)
    assert "OTHER" not in {o["symbol"] for o in json.loads(target.read_bytes()) if "symbol" in o}
    other_target = tmp_path / "other.json"
    assert jsonl_exporter(other).export_json(other_target) == 1
    assert [o["symbol"] for o in json.loads(other_target.read_bytes())] == ["OTHER"]


# --- the runs file ---------------------------------------------------------------------------


def test_runs_file_has_one_line_per_run(tmp_path: Path) -> None:
    for run_id, count in (("run-a", 2), ("run-b", 0), ("run-c", 1)):
        rec = new_recorder(tmp_path, SimulatedClock(START), run_id=run_id, strategy="mm")
        for _ in range(count):
            fill(rec)
        close(rec)

    runs = read_lines(tmp_path / "json" / "svc_runs.jsonl")
    assert [r["run_id"] for r in runs] == ["run-a", "run-b", "run-c"]
    assert {(r["service_name"], r["mode"], r["strategy"], r["clock_source"]) for r in runs} == {
        ("svc", "backtest", "mm", "simulated")
    }
    assert [o["run_id"] for o in read_lines(fills_jsonl(tmp_path))] == ["run-a", "run-a", "run-c"]


# --- values orjson refuses -------------------------------------------------------------------


def test_a_lone_surrogate_does_not_lose_the_batch(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(rec, notes="before")
    fill(rec, notes="bad \udcff byte", path="/tmp/\udcff")
    fill(rec, notes="after")
    close(rec)

    items = read_lines(fills_jsonl(tmp_path))
    assert [o["attributes"]["trading.notes"] for o in items] == [
        "before",
        "bad \\udcff byte",
        "after",
    ]
    assert items[1]["attributes"] == {
        "trading.symbol": "BTC-USDT",
        "trading.order.side": "BUY",
        "trading.fill.price": 1,
        "trading.fill.quantity": 1,
        "trading.notes": "bad \\udcff byte",
        "path": "/tmp/\\udcff",
    }
    assert b'"trading.notes":"bad \\\\udcff byte"' in fills_jsonl(tmp_path).read_bytes()


def test_ints_beyond_64_bits_are_exact_strings(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    rec.record_event("DEPOSIT", amount=10**21)
    rec.record_event("WITHDRAW", amount=5)
    fill(rec, wei=-(10**21), small=2**63 - 1)
    close(rec)

    events = read_lines(tmp_path / "json" / "svc_events_20240512.jsonl")
    assert [e["attributes"]["trading.ledger.amount"] for e in events] == [
        "1000000000000000000000",
        5,
    ]
    [item] = read_lines(fills_jsonl(tmp_path))
    assert item["attributes"] == {
        "trading.symbol": "BTC-USDT",
        "trading.order.side": "BUY",
        "trading.fill.price": 1,
        "trading.fill.quantity": 1,
        "wei": "-1000000000000000000000",
        "small": 9223372036854775807,
    }
