"""The CSV exporter, driven through a real Recorder and read back from disk.

Files are ``{tmp_path}/csv/svc_{kind}s_{YYYYMMDD}.csv``; every test shuts the Recorder down and
checks that no batch failed before reading, so a silently lost batch fails the test.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import pytest

from recording import NASTY_TEXT
from tradetrace import Recorder, SimulatedClock
from tradetrace import semconv as sc
from tradetrace.pipeline.clock import to_ns

START = "2024-05-12T12:00:00Z"
SEED_TRADE_HEADER = (
    "timestamp,datetime_utc,order_id,client_order_id,symbol,side,order_type,price,size,fee,"
    "fee_asset,realized_pnl,spread_captured,inventory_before,inventory_after,equity_before,"
    "equity_after,notes"
)
SEED_DECISION_HEADER = "timestamp,datetime_utc,decision_type,symbol,parameters,result,reason,notes"
SEED_ERROR_HEADER = (
    "timestamp,datetime_utc,error_type,severity,symbol,message,exception_type,exception_message,"
    "stack_trace,recovery_action,notes"
)
FILL_HEADER = list(sc.KIND_COLUMNS[sc.RecordKind.FILL])
CANARY = "sk-canary-7f3a9c"


# --- helpers ---------------------------------------------------------------------------------


def new_recorder(directory: Path, clock: SimulatedClock, **kwargs: Any) -> Recorder:
    return Recorder(
        service_name="svc",
        exporters=("csv", "jsonl"),
        directory=directory,
        clock=clock,
        mode="backtest",
        **kwargs,
    )


def close(rec: Recorder) -> None:
    """Shut down and insist that every record reached both exporters."""
    assert rec.shutdown()
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


def fill(rec: Recorder, **kwargs: Any) -> int:
    arguments: dict[str, Any] = {"symbol": "BTC-USDT", "side": "buy", "price": 1, "quantity": 1}
    arguments.update(kwargs)
    return rec.record_fill(**arguments)


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def read_records(path: Path) -> list[dict[str, str]]:
    header, *rows = read_rows(path)
    return [dict(zip(header, row, strict=True)) for row in rows]


def sql_path(path: Path) -> str:
    return path.as_posix().replace("'", "''")


def fills_csv(directory: Path, day: str = "20240512") -> Path:
    return directory / "csv" / f"svc_fills_{day}.csv"


# --- rotation and headers --------------------------------------------------------------------


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

    names = sorted(p.name for p in (tmp_path / "csv").iterdir())
    assert names == ["svc_fills_20240512.csv", "svc_fills_20240513.csv", "svc_runs.csv"]
    day1 = read_rows(fills_csv(tmp_path, "20240512"))
    day2 = read_rows(fills_csv(tmp_path, "20240513"))
    for rows in (day1, day2):
        assert rows[0] == FILL_HEADER
        assert sum(row == FILL_HEADER for row in rows) == 1
    seq, symbol, iso = FILL_HEADER.index("seq"), FILL_HEADER.index("symbol"), 1
    assert [(r[seq], r[symbol], r[iso]) for r in day1[1:]] == [
        ("1", "A", "2024-05-12T23:59:59.500000000Z"),
        ("2", "B", "2024-05-12T23:59:59.999999999Z"),
    ]
    assert [(r[seq], r[symbol], r[iso]) for r in day2[1:]] == [
        ("3", "C", "2024-05-13T00:00:00.000000000Z"),
        ("4", "D", "2024-05-13T01:00:00.000000000Z"),
    ]
    for path in (fills_csv(tmp_path, "20240512"), fills_csv(tmp_path, "20240513")):
        assert path.read_text(encoding="utf-8").count("timestamp,datetime_utc,") == 1


def test_going_back_to_an_earlier_day_appends_under_the_one_header(tmp_path: Path) -> None:
    # More days than the exporter keeps open, so the first day's file is closed and reopened.
    clock = SimulatedClock("2024-05-01T12:00:00Z")
    rec = new_recorder(tmp_path, clock)
    for day in range(20):
        fill(rec, symbol=f"D{day}")
        clock.advance(timedelta(days=1))
    assert rec.flush()
    clock.set("2024-05-01T18:00:00Z")
    fill(rec, symbol="BACK")
    close(rec)

    assert len(list((tmp_path / "csv").glob("svc_fills_*.csv"))) == 20
    rows = read_rows(fills_csv(tmp_path, "20240501"))
    assert rows[0] == FILL_HEADER
    assert sum(row == FILL_HEADER for row in rows) == 1
    assert [r[FILL_HEADER.index("symbol")] for r in rows[1:]] == ["D0", "BACK"]
    assert [r["symbol"] for r in read_records(fills_csv(tmp_path, "20240520"))] == ["D19"]


def test_a_second_run_appends_to_the_same_day_file_under_one_header(tmp_path: Path) -> None:
    for run_id in ("run-a", "run-b"):
        rec = new_recorder(tmp_path, SimulatedClock(START), run_id=run_id)
        fill(rec, symbol=run_id)
        close(rec)

    rows = read_rows(fills_csv(tmp_path))
    assert sum(row == FILL_HEADER for row in rows) == 1
    assert [(r["run_id"], r["seq"], r["symbol"]) for r in read_records(fills_csv(tmp_path))] == [
        ("run-a", "1", "run-a"),
        ("run-b", "1", "run-b"),
    ]


def _record_fill(rec: Recorder) -> None:
    fill(rec)


def _record_decision(rec: Recorder) -> None:
    rec.record_decision("quote", inputs={"mid": 1}, result="hold", reason="flat")


def _record_error(rec: Recorder) -> None:
    rec.record_error("venue_down", message="timeout")


@pytest.mark.parametrize(
    ("stem", "record", "seed_header"),
    [
        ("fills", _record_fill, SEED_TRADE_HEADER),
        ("decisions", _record_decision, SEED_DECISION_HEADER),
        ("errors", _record_error, SEED_ERROR_HEADER),
    ],
)
def test_header_starts_with_the_seed_header(
    tmp_path: Path, stem: str, record: Any, seed_header: str
) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    record(rec)
    close(rec)

    path = tmp_path / "csv" / f"svc_{stem}_20240512.csv"
    first_line = path.read_bytes().split(b"\r\n", 1)[0].decode("utf-8")
    assert first_line.startswith(seed_header + ",")
    header = read_rows(path)[0]
    assert header[: seed_header.count(",") + 1] == seed_header.split(",")
    assert header == list(sc.KIND_COLUMNS[sc.RecordKind(stem[:-1])])
    assert header[-1] == "attributes"
    assert len(header) == len(set(header))


def test_each_kind_goes_to_its_own_file(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(rec)
    rec.record_order("submit", symbol="BTC-USDT", side="buy", price="100", quantity="1")
    rec.record_decision("quote", result="hold")
    rec.record_risk_check("max_position", passed=True)
    rec.record_error("venue_down", message="timeout")
    rec.record_event("GAS_FEE_PAID", amount="0.001")
    with rec.span("rebalance", symbol="BTC-USDT"):
        pass
    close(rec)

    stems = ["decisions", "errors", "events", "fills", "orders", "risk_checks", "spans"]
    names = {p.name for p in (tmp_path / "csv").iterdir()}
    assert names == {f"svc_{s}_20240512.csv" for s in stems} | {"svc_runs.csv"}
    seqs = sorted(
        int(record["seq"])
        for stem in stems
        for record in read_records(tmp_path / "csv" / f"svc_{stem}_20240512.csv")
    )
    assert seqs == [1, 2, 3, 4, 5, 6, 7]


def test_an_existing_file_with_another_header_is_never_appended_to(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    foreign = folder / "svc_fills_20240512.csv"
    foreign_bytes = b"time,px,qty\r\n1,2,3\r\n"
    foreign.write_bytes(foreign_bytes)
    seed_style = folder / "svc_fills_20240512_2.csv"  # the seed logger's shorter header
    seed_bytes = (SEED_TRADE_HEADER + "\r\n").encode()
    seed_style.write_bytes(seed_bytes)

    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(rec, symbol="X")
    fill(rec, symbol="Y")
    close(rec)

    assert foreign.read_bytes() == foreign_bytes
    assert seed_style.read_bytes() == seed_bytes
    third = folder / "svc_fills_20240512_3.csv"
    rows = read_rows(third)
    assert rows[0] == FILL_HEADER
    assert [r["symbol"] for r in read_records(third)] == ["X", "Y"]
    assert sorted(p.name for p in folder.glob("svc_fills_*")) == [
        "svc_fills_20240512.csv",
        "svc_fills_20240512_2.csv",
        "svc_fills_20240512_3.csv",
    ]


def test_an_existing_empty_file_gets_the_header(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "svc_fills_20240512.csv").touch()
    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(rec, symbol="X")
    close(rec)

    rows = read_rows(fills_csv(tmp_path))
    assert rows[0] == FILL_HEADER
    assert [r["symbol"] for r in read_records(fills_csv(tmp_path))] == ["X"]
    assert not (folder / "svc_fills_20240512_2.csv").exists()


# --- cell formats ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_text_cells_starting_with_a_formula_character_get_a_quote(
    tmp_path: Path, prefix: str
) -> None:
    text = prefix + 'HYPERLINK("http://evil.example","x")'
    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(rec, symbol=prefix + "PERP", order_id=prefix + "42", notes=text, leg=text)
    rec.record_decision("quote", result=text, reason=text)
    rec.record_error("venue_down", message=text, recovery_action=text)
    rec.record_risk_check("max_position", passed=False, reason=text)
    close(rec)

    quoted = "'" + text
    [row] = read_records(fills_csv(tmp_path))
    assert row["symbol"] == "'" + prefix + "PERP"
    assert row["order_id"] == "'" + prefix + "42"
    assert row["notes"] == quoted
    # The attributes cell is JSON (starts with "{"), and keeps the raw text inside.
    assert row["attributes"].startswith("{")
    assert json.loads(row["attributes"]) == {"leg": text}
    [decision] = read_records(tmp_path / "csv" / "svc_decisions_20240512.csv")
    assert (decision["result"], decision["reason"]) == (quoted, quoted)
    [error] = read_records(tmp_path / "csv" / "svc_errors_20240512.csv")
    assert (error["message"], error["recovery_action"]) == (quoted, quoted)
    [risk] = read_records(tmp_path / "csv" / "svc_risk_checks_20240512.csv")
    assert risk["risk_reason"] == quoted


def test_numbers_are_never_prefixed(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(
        rec,
        side="sell",
        price=Decimal("67500"),
        fee=Decimal("-0.01"),
        realized_pnl=Decimal("-0.5"),
        spread_captured=-0.25,
        inventory_before=-3,
        inventory_after="-1.50",
        equity_after=-1e-07,
        notes="a=b, x-y, 'quoted",
    )
    close(rec)

    [row] = read_records(fills_csv(tmp_path))
    assert row["fee"] == "-0.01"
    assert row["realized_pnl"] == "-0.5"
    assert row["spread_captured"] == "-0.25"
    assert row["inventory_before"] == "-3"
    assert row["inventory_after"] == "-1.50"
    assert row["equity_after"] == "-1e-07"
    assert row["notes"] == "a=b, x-y, 'quoted"  # only a leading formula character counts
    assert "'-" not in fills_csv(tmp_path).read_text(encoding="utf-8")
    got = duckdb.sql(
        f"SELECT realized_pnl, spread_captured, inventory_before "
        f"FROM read_csv_auto('{sql_path(fills_csv(tmp_path))}')"
    ).fetchall()
    assert got == [(-0.5, -0.25, -3)]


def test_booleans_are_true_false_and_floats_use_the_shortest_repr(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock("2024-05-12T12:00:00.25Z"))
    rec.record_risk_check("max_position", passed=True, limit=0.1, observed=0.1 + 0.2)
    rec.record_risk_check("max_drawdown", passed=False, limit=1e-07, observed=1e22)
    rec.record_error("venue_down", message="timeout", retryable=False)
    fill(rec, price=0.1, hedged=True, ratio=2.5)
    close(rec)

    risks = read_records(tmp_path / "csv" / "svc_risk_checks_20240512.csv")
    assert [(r["passed"], r["limit_value"], r["observed_value"]) for r in risks] == [
        ("true", "0.1", "0.30000000000000004"),
        ("false", "1e-07", "1e+22"),
    ]
    assert [r["timestamp"] for r in risks] == ["1715515200.25", "1715515200.25"]
    [error] = read_records(tmp_path / "csv" / "svc_errors_20240512.csv")
    assert error["retryable"] == "false"
    [row] = read_records(fills_csv(tmp_path))
    assert row["price"] == "0.1"
    assert row["attributes"] == '{"hedged":true,"ratio":2.5}'
    text = (tmp_path / "csv" / "svc_risk_checks_20240512.csv").read_text(encoding="utf-8")
    assert "True" not in text and "False" not in text


def test_timestamp_is_the_float_nearest_to_the_event_time(tmp_path: Path) -> None:
    clock = SimulatedClock(START)
    rec = new_recorder(tmp_path, clock)
    offsets = [250_000_000, 123_456_789, 999_999_999, 1, 500_000_001, 43_199_999_999_999]
    for offset in offsets:
        clock.set(to_ns(START) + offset)
        fill(rec)
    close(rec)

    rows = read_records(fills_csv(tmp_path))
    assert len(rows) == len(offsets)
    assert rows[0]["timestamp"] == "1715515200.25"
    for row in rows:
        exact = Fraction(int(row["time_ns"]), 1_000_000_000)
        written = float(row["timestamp"])
        error = abs(Fraction(written) - exact)
        for neighbour in (math.nextafter(written, 0), math.nextafter(written, math.inf)):
            assert error <= abs(Fraction(neighbour) - exact), row["time_ns"]




def _record_nasty(directory: Path) -> None:
    rec = new_recorder(directory, SimulatedClock(START))
    for text in NASTY_TEXT:
        fill(rec, symbol="日本語 🚀", notes=text, comment=text)
    close(rec)


def test_unicode_newlines_quotes_and_commas_round_trip_through_csv_reader(tmp_path: Path) -> None:
    _record_nasty(tmp_path)

    rows = read_records(fills_csv(tmp_path))
    assert [r["notes"] for r in rows] == NASTY_TEXT
    assert {r["symbol"] for r in rows} == {"日本語 🚀"}
    assert [json.loads(r["attributes"]) for r in rows] == [{"comment": t} for t in NASTY_TEXT]
    assert [r["seq"] for r in rows] == [str(n) for n in range(1, len(NASTY_TEXT) + 1)]
    assert "日本語 🚀".encode() in fills_csv(tmp_path).read_bytes()  # UTF-8, not escaped


def test_unicode_newlines_quotes_and_commas_round_trip_through_duckdb(tmp_path: Path) -> None:
    _record_nasty(tmp_path)

    got = duckdb.sql(
        f"SELECT seq, symbol, notes FROM read_csv_auto('{sql_path(fills_csv(tmp_path))}') "
        "ORDER BY seq"
    ).fetchall()
    assert got == [(n, "日本語 🚀", text) for n, text in enumerate(NASTY_TEXT, 1)]


# --- decimals --------------------------------------------------------------------------------

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


def test_decimals_are_written_digit_for_digit(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    for value, _ in DECIMALS:
        fill(rec, price=value, realized_pnl=value, quantity=Decimal("1E-18"), extra=value)
    close(rec)

    expected = [text for _, text in DECIMALS]
    for (value, text), row in zip(DECIMALS, read_records(fills_csv(tmp_path)), strict=True):
        assert text == format(Decimal(value), "f")
        assert row["price"] == text
        assert row["realized_pnl"] == text
        assert row["size"] == "0.000000000000000001"
        assert json.loads(row["attributes"]) == {"extra": text}
    path = sql_path(fills_csv(tmp_path))
    as_text = duckdb.sql(
        f"SELECT price, realized_pnl FROM read_csv('{path}', all_varchar=true) ORDER BY seq::INT"
    ).fetchall()
    assert as_text == [(text, text) for text in expected]
    as_decimal = duckdb.sql(
        f"SELECT CAST(price AS DECIMAL(38, 18)) FROM read_csv('{path}', all_varchar=true) "
        "ORDER BY seq::INT"
    ).fetchall()
    assert [row[0] for row in as_decimal] == [Decimal(text) for text in expected]


# --- reading back with DuckDB ----------------------------------------------------------------


def test_duckdb_reads_the_csv_files(tmp_path: Path) -> None:
    clock = SimulatedClock("2024-05-12T22:00:00Z")
    rec = new_recorder(tmp_path, clock)
    symbols = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "BTC-USDT", "XRP-USDT"]
    fill_seqs, times = [], []
    for symbol in symbols:
        fill_seqs.append(fill(rec, symbol=symbol, price="100.5"))
        times.append(clock.now_ns())
        clock.advance(timedelta(minutes=45))  # the last two land on the 13th
    decision_seqs = [rec.record_decision("quote", symbol=s, result="hold") for s in symbols[:3]]
    close(rec)

    folder = sql_path(tmp_path / "csv")
    got = duckdb.sql(
        f"SELECT seq, symbol, side, run_id, time_ns "
        f"FROM read_csv_auto('{folder}/svc_fills_*.csv') ORDER BY seq"
    ).fetchall()
    assert got == [
        (seq, symbol, "BUY", rec.run_id, ns)
        for seq, symbol, ns in zip(fill_seqs, symbols, times, strict=True)
    ]
    day1 = duckdb.sql(
        f"SELECT count(*), min(seq), max(seq) FROM read_csv_auto('{folder}/svc_fills_20240512.csv')"
    ).fetchall()
    assert day1 == [(3, 1, 3)]
    decisions = duckdb.sql(
        f"SELECT seq, symbol, decision_type, result "
        f"FROM read_csv_auto('{folder}/svc_decisions_20240513.csv') ORDER BY seq"
    ).fetchall()
    assert decisions == [
        (seq, symbol, "quote", "hold")
        for seq, symbol in zip(decision_seqs, symbols[:3], strict=True)
    ]


# --- attributes and redaction ----------------------------------------------------------------


def test_attributes_cell_holds_only_attributes_without_a_column(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(
        rec,
        venue="binance",
        strategy_leg="A",
        tx_hash="0xabc",
        meta={"depth": 3, "px": Decimal("1.10"), "tags": ("x", "y")},
    )
    fill(rec, venue="okx")
    close(rec)

    with_extras, plain = read_records(fills_csv(tmp_path))
    assert with_extras["venue"] == "binance"
    assert json.loads(with_extras["attributes"]) == {
        "strategy_leg": "A",
        sc.ATTRIBUTE_OF["tx_hash"]: "0xabc",
        "meta": {"depth": 3, "px": "1.10", "tags": ["x", "y"]},
    }
    assert plain["venue"] == "okx"
    assert plain["attributes"] == ""


def test_sensitive_values_never_reach_any_file(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(
        rec,
        api_key=CANARY,
        strategy_leg="A",
        creds={"api_secret": CANARY, "nested": [{"password": CANARY, "ok": 1}]},
    )
    rec.record_decision("quote", inputs={"apiKey": CANARY, "mid": 1}, result={"auth_token": CANARY})
    rec.record_error("venue_down", message="timeout", private_key=CANARY)
    rec.record_event("DEPOSIT", amount=1, signature=CANARY)
    with rec.span("rebalance", passphrase=CANARY):
        pass
    close(rec)

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 12  # 5 kinds + runs, in csv/ and json/
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path
    [row] = read_records(fills_csv(tmp_path))
    assert json.loads(row["attributes"]) == {
        "strategy_leg": "A",
        "api_key": "[REDACTED]",
        "creds": {"api_secret": "[REDACTED]", "nested": [{"password": "[REDACTED]", "ok": 1}]},
    }
    [decision] = read_records(tmp_path / "csv" / "svc_decisions_20240512.csv")
    assert json.loads(decision["parameters"]) == {"apiKey": "[REDACTED]", "mid": 1}
    assert json.loads(decision["result"]) == {"auth_token": "[REDACTED]"}


# --- the runs file ---------------------------------------------------------------------------


def test_runs_file_has_one_row_per_run(tmp_path: Path) -> None:
    for run_id, count in (("run-a", 2), ("run-b", 0), ("run-c", 1)):
        rec = new_recorder(tmp_path, SimulatedClock(START), run_id=run_id, environment="=cmd")
        for _ in range(count):
            fill(rec)
        close(rec)

    path = tmp_path / "csv" / "svc_runs.csv"
    rows = read_rows(path)
    assert rows[0][0] == "run_id"
    assert sum(row == rows[0] for row in rows) == 1
    runs = read_records(path)
    assert [r["run_id"] for r in runs] == ["run-a", "run-b", "run-c"]
    assert {(r["service_name"], r["mode"], r["clock_source"]) for r in runs} == {
        ("svc", "backtest", "simulated")
    }
    assert {r["environment"] for r in runs} == {"'=cmd"}
    assert [r["run_id"] for r in read_records(fills_csv(tmp_path))] == ["run-a", "run-a", "run-c"]


# --- values orjson and UTF-8 refuse ----------------------------------------------------------


def test_a_lone_surrogate_does_not_lose_the_batch(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    fill(rec, notes="before")
    fill(rec, notes="bad \udcff byte", path="/tmp/\udcff")
    fill(rec, notes="after")
    close(rec)

    rows = read_records(fills_csv(tmp_path))
    assert [r["notes"] for r in rows] == ["before", "bad \\udcff byte", "after"]
    assert json.loads(rows[1]["attributes"]) == {"path": "/tmp/\\udcff"}


def test_ints_beyond_64_bits_are_written_exactly(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, SimulatedClock(START))
    rec.record_event("DEPOSIT", amount=10**21)
    fill(rec, wei=-(10**21), small=2**63 - 1)
    close(rec)

    [event] = read_records(tmp_path / "csv" / "svc_events_20240512.csv")
    assert event["amount"] == "1000000000000000000000"
    [row] = read_records(fills_csv(tmp_path))
    assert json.loads(row["attributes"]) == {
        "wei": "-1000000000000000000000",
        "small": 9223372036854775807,
    }
