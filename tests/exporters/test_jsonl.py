"""The JSON Lines exporter and ``export_json``, driven through a real Recorder.

Files are ``{tmp_path}/json/svc_{kind}s_{YYYYMMDD}.jsonl``; every test shuts the Recorder down
(or flushes it) and checks that no batch failed before reading.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tradetrace import Recorder, SimulatedClock
from tradetrace import semconv as sc
from tradetrace.exporters.jsonl import JsonLinesExporter
from tradetrace.pipeline.clock import to_ns

START = "2024-05-12T12:00:00Z"
CANARY = "sk-canary-7f3a9c"


# --- helpers ---------------------------------------------------------------------------------


def new_recorder(
    directory: Path, clock: SimulatedClock, service_name: str = "svc", **kwargs: Any
) -> Recorder:
    return Recorder(
        service_name=service_name,
        exporters=("csv", "jsonl"),
        directory=directory,
        clock=clock,
        mode="backtest",
        **kwargs,
    )


def check_health(rec: Recorder) -> None:
    health = rec.health()
    for name in ("csv", "jsonl"):
        counters = health["exporters"][name]
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


def sql_path(path: Path) -> str:
    return path.as_posix().replace("'", "''")


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
    assert [(o["seq"], o["symbol"], o["datetime_utc"], o["kind"]) for o in day1] == [
        (1, "A", "2024-05-12T23:59:59.500000000Z", "fill"),
        (2, "B", "2024-05-12T23:59:59.999999999Z", "fill"),
    ]
    assert [(o["seq"], o["symbol"], o["datetime_utc"], o["kind"]) for o in day2] == [
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
    assert [o["symbol"] for o in read_lines(fills_jsonl(tmp_path, "20240501"))] == ["D0", "BACK"]


def test_every_object_has_every_column_of_its_kind_in_order(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(rec, venue="binance")
    rec.record_decision("quote", inputs={"mid": 1}, result="hold")
    rec.record_error("venue_down", message="timeout")
    close(rec)

    for stem, kind in (("fills", "fill"), ("decisions", "decision"), ("errors", "error")):
        [item] = read_lines(tmp_path / "json" / f"svc_{stem}_20240512.jsonl")
        assert list(item) == list(sc.KIND_COLUMNS[sc.RecordKind(kind)])
        assert item["kind"] == kind
    [item] = read_lines(fills_jsonl(tmp_path))
    assert item["venue"] == "binance"
    assert item["order_id"] is None
    assert item["attributes"] is None
    assert item["run_id"] == rec.run_id
    assert item["timestamp"] == 1715515200.0


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_text_is_kept_raw(tmp_path: Path, prefix: str) -> None:
    text = prefix + 'HYPERLINK("http://evil.example","x")'
    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(rec, symbol=prefix + "PERP", notes=text, leg=text, realized_pnl=Decimal("-0.5"))
    rec.record_decision("quote", result=text, reason=text)
    close(rec)

    [item] = read_lines(fills_jsonl(tmp_path))
    assert (item["symbol"], item["notes"], item["attributes"]) == (
        prefix + "PERP",
        text,
        {"leg": text},
    )
    assert item["realized_pnl"] == "-0.5"
    [decision] = read_lines(tmp_path / "json" / "svc_decisions_20240512.jsonl")
    assert (decision["result"], decision["reason"]) == (text, text)
    for path in (tmp_path / "json").glob("*.jsonl"):
        assert b"'" + prefix.encode() not in path.read_bytes()
        assert b"\"'" not in path.read_bytes()


NASTY_TEXT = [
    "日本語 🚀",
    "e\u0301te\u0301 (combining acute accents)",
    "Z\u0351\u0352a\u0353l\u0354g\u0355o",
    "line one\nline two",
    "crlf\r\ninside",
    'she said "buy", then "sell"',
    'a,b,,c,"',
    "trailing space ",
    "  leading spaces",
    "tab\tinside",
    "'single quotes'",
    "\u200b zero width, \u00a0 no-break space, \u202e right-to-left",
    "back\\slash \\n not a newline",
    "=1+1",
]


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
    assert [o["notes"] for o in items] == NASTY_TEXT
    assert [o["attributes"] for o in items] == [{"comment": t} for t in NASTY_TEXT]
    got = duckdb.sql(
        f"SELECT seq, symbol, notes FROM read_json_auto('{sql_path(path)}') ORDER BY seq"
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
    assert [o["price"] for o in items] == expected
    assert [o["attributes"] for o in items] == [{"extra": {"v": t}} for t in expected]
    assert {o["size"] for o in items} == {"0.000000000000000001"}
    assert b'"price":"0.0000001"' in path.read_bytes()
    got = duckdb.sql(
        f"SELECT price, CAST(price AS DECIMAL(38, 18)) "
        f"FROM read_json_auto('{sql_path(path)}') ORDER BY seq"
    ).fetchall()
    assert got == [(text, Decimal(text)) for text in expected]


def test_booleans_ints_and_floats_are_json_values(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock("2024-05-12T12:00:00.25Z"))
    rec.record_risk_check("max_position", passed=True, limit=0.1, observed=0.1 + 0.2)
    rec.record_risk_check("max_drawdown", passed=False, limit=3, observed=1e-07)
    close(rec)

    path = tmp_path / "json" / "svc_risk_checks_20240512.jsonl"
    items = read_lines(path)
    assert [(o["passed"], o["limit_value"], o["observed_value"]) for o in items] == [
        (True, 0.1, 0.30000000000000004),
        (False, 3, 1e-07),
    ]
    assert [o["timestamp"] for o in items] == [1715515200.25, 1715515200.25]
    first = path.read_bytes().split(b"\n")[0]
    assert b'"passed":true' in first
    assert b'"limit_value":0.1,' in first
    assert b'"observed_value":0.30000000000000004,' in first
    assert b'"timestamp":1715515200.25,' in first


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
        f"SELECT seq, symbol, side, price, run_id, time_ns "
        f"FROM read_json_auto('{folder}/svc_fills_*.jsonl') ORDER BY seq"
    ).fetchall()
    assert got == [
        (seq, symbol, "BUY", "100.5", rec.run_id, ns)
        for seq, symbol, ns in zip(seqs, symbols, times, strict=True)
    ]
    day2 = duckdb.sql(
        f"SELECT count(*), min(seq), max(seq) "
        f"FROM read_json_auto('{folder}/svc_fills_20240513.jsonl')"
    ).fetchall()
    assert day2 == [(2, 4, 5)]


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
    assert item["venue"] == "binance"
    assert item["attributes"] == {
        "strategy_leg": "A",
        "api_key": "[REDACTED]",
        "creds": {"api_secret": "[REDACTED]", "nested": [{"password": "[REDACTED]", "ok": 1}]},
    }
    [decision] = read_lines(tmp_path / "json" / "svc_decisions_20240512.jsonl")
    assert decision["parameters"] == {"apiKey": "[REDACTED]", "mid": 1}
    [event] = read_lines(tmp_path / "json" / "svc_events_20240512.jsonl")
    assert event["attributes"] == {"signature": "[REDACTED]", "memo": "hi"}


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
    assert data[2]["price"] == "0.0000001"
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
    assert [o["notes"] for o in items] == ["before", "bad \\udcff byte", "after"]
    assert items[1]["attributes"] == {"path": "/tmp/\\udcff"}


def test_ints_beyond_64_bits_are_exact_strings(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    rec.record_event("DEPOSIT", amount=10**21)
    rec.record_event("WITHDRAW", amount=5)
    fill(rec, wei=-(10**21), small=2**63 - 1)
    close(rec)

    events = read_lines(tmp_path / "json" / "svc_events_20240512.jsonl")
    assert [e["amount"] for e in events] == ["1000000000000000000000", 5]
    [item] = read_lines(fills_jsonl(tmp_path))
    assert item["attributes"] == {"wei": "-1000000000000000000000", "small": 9223372036854775807}
