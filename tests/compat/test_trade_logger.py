"""tradetrace.compat.TradeLogger against the seed's promises, with real files read back.

Every test closes the logger (flushing the pipeline) before reading, then reads the CSV files
with the ``csv`` module and the JSON files with the ``json`` module.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
import logging
import math
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradetrace import InvalidRecordError
from tradetrace.compat import (
    DecisionLogEntry,
    ErrorLogEntry,
    TradeLogEntry,
    TradeLogger,
    create_decision_entry,
    create_error_entry,
    create_trade_entry,
    integrate_with_trading_client,
)

ROOT = Path(__file__).resolve().parents[2]
TRADE_HEADER = (
    "timestamp,datetime_utc,order_id,client_order_id,symbol,side,order_type,price,size,fee,"
    "fee_asset,realized_pnl,spread_captured,inventory_before,inventory_after,equity_before,"
    "equity_after,notes"
)
DECISION_HEADER = "timestamp,datetime_utc,decision_type,symbol,parameters,result,reason,notes"
ERROR_HEADER = (
    "timestamp,datetime_utc,error_type,severity,symbol,message,exception_type,exception_message,"
    "stack_trace,recovery_action,notes"
)
# 2025-10-24T12:35:43.123Z
T0 = datetime(2025, 10, 24, 12, 35, 43, 123000, tzinfo=timezone.utc).timestamp()


class APIError(Exception):
    """The venue's error in the seed's example."""


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def logger(tmp_path: Path) -> Iterator[TradeLogger]:
    trade_logger = TradeLogger("demo", tmp_path)
    yield trade_logger
    trade_logger.close()


def closed(trade_logger: TradeLogger) -> None:
    """Close and insist that every record reached every exporter."""
    assert trade_logger.close()
    health = trade_logger.health()
    for counters in health["exporters"].values():
        assert counters["failed"] == counters["dropped"] == counters["pending"] == 0, health
        assert counters["exported"] == health["emitted"], health
    assert health["internal_errors"] == {}, health


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def rows_of(directory: Path, stem: str) -> list[dict[str, str]]:
    """Rows of ``{directory}/csv/{stem}_*.csv`` for entries stamped now (the test may have run
    across UTC midnight, and then there are two files)."""
    paths = sorted((directory / "csv").glob(f"{stem}_*.csv"))
    assert paths, f"no {stem} files"
    return [row for path in paths for row in csv_rows(path)]


def csv_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def json_items(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def written_so_far(path: Path) -> int:
    """Entries in a daily JSON file that the exporter thread may be writing right now."""
    try:
        return len(json_items(path))
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def trade(ts: float = T0, **fields: Any) -> TradeLogEntry:
    arguments: dict[str, Any] = {
        "order_id": "order_1", "client_order_id": "client_1", "symbol": "BTC-USDT",
        "side": "BUY", "order_type": "LIMIT", "price": 67500.0, "size": 0.001, "fee": 0.135,
        "fee_asset": "USDT", "realized_pnl": 0.5, "spread_captured": 0.025,
        "inventory_before": 0.0, "inventory_after": 0.001, "equity_before": 100.0,
        "equity_after": 100.5, "notes": "Demo trade 1",
    }  # fmt: skip
    arguments.update(fields)
    return create_trade_entry(**arguments, timestamp=ts)


def decision(ts: float = T0) -> DecisionLogEntry:
    return create_decision_entry(
        "spread_calculation", "BTC-USDT", {"gamma": 0.1, "sigma": 0.02, "k": 1.5},
        {"bid_spread": 0.025, "ask_spread": 0.025}, "Avellaneda-Stoikov formula",
        "Using static parameters", timestamp=ts,
    )  # fmt: skip


def error(ts: float = T0, error_type: str = "api_error") -> ErrorLogEntry:
    return create_error_entry(
        error_type, "WARNING", "BTC-USDT", "Order placement failed",
        APIError("Rate limit exceeded"), "Retry after 1 second", "Temporary API issue",
        timestamp=ts,
    )  # fmt: skip


# --- files: names, headers, rows -------------------------------------------------------------


def test_seed_file_names_and_exact_headers(logger: TradeLogger, tmp_path: Path) -> None:
    assert logger.log_trade(trade()) == 1
    assert logger.log_decision(decision()) == 2
    assert logger.log_error(error()) == 3
    closed(logger)
    names = sorted(p.name for p in (tmp_path / "csv").iterdir())
    assert names == [
        "demo_decisions_20251024.csv",
        "demo_errors_20251024.csv",
        "demo_trades_20251024.csv",
    ]
    assert csv_lines(tmp_path / "csv" / "demo_trades_20251024.csv")[0] == TRADE_HEADER
    assert csv_lines(tmp_path / "csv" / "demo_decisions_20251024.csv")[0] == DECISION_HEADER
    assert csv_lines(tmp_path / "csv" / "demo_errors_20251024.csv")[0] == ERROR_HEADER
    json_names = sorted(p.name for p in (tmp_path / "json").iterdir())
    assert json_names == [
        "demo_decisions_20251024.json",
        "demo_errors_20251024.json",
        "demo_trades_20251024.json",
    ]


def test_seed_csv_example_rows_round_trip(logger: TradeLogger, tmp_path: Path) -> None:
    # The three rows of the seed's "CSV Format Examples", logged as the seed's data classes.
    seed_trade = TradeLogEntry(
        1729776543.123, "2025-10-24T12:35:43.123456", "order_1", "client_1", "BTC-USDT",
        "BUY", "LIMIT", 67500.0, 0.001, 0.135, "USDT", "0.50", 0.025, 0.0, 0.001, 100.0,
        100.5, "Demo trade 1",
    )  # fmt: skip
    seed_decision = DecisionLogEntry(
        1729776543.456, "2025-10-24T12:35:43.456789", "spread_calculation", "BTC-USDT",
        {"gamma": 0.1, "sigma": 0.02, "k": 1.5}, {"bid_spread": 0.025, "ask_spread": 0.025},
        "Avellaneda-Stoikov formula", "Using static parameters",
    )  # fmt: skip
    seed_error = ErrorLogEntry(
        1729776543.789, "2025-10-24T12:35:43.789012", "api_error", "WARNING", "BTC-USDT",
        "Order placement failed", "APIError", "Rate limit exceeded", "",
        "Retry after 1 second", "Temporary API issue",
    )  # fmt: skip
    logger.log_trade(seed_trade)
    logger.log_decision(seed_decision)
    logger.log_error(seed_error)
    closed(logger)
    day = "20241024"  # 1729776543 is 2024-10-24 UTC (the seed's example texts disagree)
    assert csv_lines(tmp_path / "csv" / f"demo_trades_{day}.csv")[1] == (
        "1729776543.123,2025-10-24T12:35:43.123456,order_1,client_1,BTC-USDT,BUY,LIMIT,67500.0,"
        "0.001,0.135,USDT,0.50,0.025,0.0,0.001,100.0,100.5,Demo trade 1"
    )
    assert csv_lines(tmp_path / "csv" / f"demo_errors_{day}.csv")[1] == (
        "1729776543.789,2025-10-24T12:35:43.789012,api_error,WARNING,BTC-USDT,"
        "Order placement failed,APIError,Rate limit exceeded,,Retry after 1 second,"
        "Temporary API issue"
    )
    (row,) = rows_of(tmp_path, "demo_decisions")
    assert row["timestamp"] == "1729776543.456"
    assert row["datetime_utc"] == "2025-10-24T12:35:43.456789"
    assert json.loads(row["parameters"]) == {"gamma": 0.1, "sigma": 0.02, "k": 1.5}
    assert json.loads(row["result"]) == {"bid_spread": 0.025, "ask_spread": 0.025}
    assert (row["reason"], row["notes"]) == (
        "Avellaneda-Stoikov formula",
        "Using static parameters",
    )


def test_seed_json_example_and_exact_numbers(logger: TradeLogger, tmp_path: Path) -> None:
    seed_trade = TradeLogEntry(
        1729776543.123, "2025-10-24T12:35:43.123456", "order_1", "client_1", "BTC-USDT",
        "BUY", "LIMIT", 67500.0, 0.001, 0.135, "USDT", 0.5, 0.025, 0.0, 0.001, 100.0, 100.5,
        "Demo trade 1",
    )  # fmt: skip
    logger.log_trade(seed_trade)
    exact = trade(
        1729776544.0, price=Decimal("67500.10"), size="0.00100000", fee=Decimal("0.13502"),
        realized_pnl="-0.000000001", notes="exact",
    )  # fmt: skip
    logger.log_trade(exact)
    closed(logger)
    seed_example, exact_item = json_items(tmp_path / "json" / "demo_trades_20241024.json")
    assert seed_example == {
        "timestamp": 1729776543.123, "datetime_utc": "2025-10-24T12:35:43.123456",
        "order_id": "order_1", "client_order_id": "client_1", "symbol": "BTC-USDT", "side": "BUY",
        "order_type": "LIMIT", "price": 67500.0, "size": 0.001, "fee": 0.135, "fee_asset": "USDT",
        "realized_pnl": 0.5, "spread_captured": 0.025, "inventory_before": 0.0,
        "inventory_after": 0.001, "equity_before": 100.0, "equity_after": 100.5,
        "notes": "Demo trade 1",
    }  # fmt: skip
    # Decimals and decimal text: digit for digit (JSON strings, so no float ever touches them)
    assert exact_item["price"] == "67500.10" and exact_item["size"] == "0.00100000"
    assert exact_item["fee"] == "0.13502" and exact_item["realized_pnl"] == "-0.000000001"
    assert exact_item["datetime_utc"] == "2024-10-24T13:29:04.000000"
    row = csv_rows(tmp_path / "csv" / "demo_trades_20241024.csv")[1]
    assert (row["price"], row["size"], row["fee"]) == ("67500.10", "0.00100000", "0.13502")
    assert row["realized_pnl"] == "-0.000000001"  # a number: no spreadsheet-formula quote


def test_helpers_stamp_both_times_and_read_exceptions() -> None:
    entry = create_trade_entry("o", "c", "BTC-USDT", "BUY", "LIMIT", 1.0, 1.0)
    assert abs(entry.timestamp - datetime.now(timezone.utc).timestamp()) < 5
    parsed = datetime.fromisoformat(entry.datetime_utc).replace(tzinfo=timezone.utc)
    assert abs(parsed.timestamp() - entry.timestamp) < 1e-6
    assert (entry.fee, entry.realized_pnl, entry.inventory_before) == (0.0, 0.0, None)
    at = create_decision_entry("rebalance", "ETH-USDT", {}, {}, timestamp=datetime(2025, 1, 2))
    assert (at.timestamp, at.datetime_utc) == (1735776000.0, "2025-01-02T00:00:00.000000")
    try:
        raise APIError("Rate limit exceeded")
    except APIError as exc:
        raised = create_error_entry("api_error", "ERROR", exception=exc)
    assert (raised.exception_type, raised.exception_message) == ("APIError", "Rate limit exceeded")
    assert raised.message == "Rate limit exceeded"
    assert raised.stack_trace.startswith("Traceback (most recent call last):")
    assert raised.stack_trace.rstrip().endswith("APIError: Rate limit exceeded")
    assert error().stack_trace == ""  # never raised: no traceback, as in the seed's example


# --- export_to_json --------------------------------------------------------------------------


def test_export_to_json_with_time_filtering(logger: TradeLogger, tmp_path: Path) -> None:
    for i in range(4):  # T0, T0+60, T0+120, T0+180
        logger.log_trade(trade(T0 + 60 * i, order_id=f"order_{i}"))
    logger.log_decision(decision(T0 + 10))
    logger.log_error(error(T0 + 200))
    everything = logger.export_to_json()
    assert set(everything) == {"trades", "decisions", "errors"}
    pattern = r"demo_{}_export_\d{{8}}_\d{{6}}\.json"
    for kind, path in everything.items():
        assert Path(path).parent == tmp_path / "json"
        assert re.fullmatch(pattern.format(kind), Path(path).name), path
    assert [t["order_id"] for t in json_items(Path(everything["trades"]))] == [
        "order_0", "order_1", "order_2", "order_3",
    ]  # fmt: skip
    assert len(json_items(Path(everything["decisions"]))) == 1
    assert json_items(Path(everything["errors"]))[0]["exception_type"] == "APIError"

    # inclusive at both ends; seconds, datetimes and ISO text alike
    window = logger.export_to_json(start_time=T0 + 60, end_time=T0 + 120, filename="window")
    assert window == {
        "trades": str(tmp_path / "json" / "window_trades.json"),
        "decisions": str(tmp_path / "json" / "window_decisions.json"),
        "errors": str(tmp_path / "json" / "window_errors.json"),
    }
    trades = json_items(Path(window["trades"]))
    assert [(t["order_id"], t["timestamp"]) for t in trades] == [
        ("order_1", T0 + 60),
        ("order_2", T0 + 120),
    ]
    assert trades[0]["price"] == 67500.0 and trades[0]["fee"] == 0.135
    assert json_items(Path(window["decisions"])) == json_items(Path(window["errors"])) == []
    start = datetime.fromtimestamp(T0 + 150, timezone.utc)
    late = logger.export_to_json(start_time=start, filename=tmp_path / "out" / "late.json")
    assert late["trades"] == str(tmp_path / "out" / "late_trades.json")
    assert [t["order_id"] for t in json_items(Path(late["trades"]))] == ["order_3"]
    assert [e["error_type"] for e in json_items(Path(late["errors"]))] == ["api_error"]
    until = logger.export_to_json(end_time="2025-10-24T12:35:53.123Z", filename="early")
    assert [d["decision_type"] for d in json_items(Path(until["decisions"]))] == [
        "spread_calculation"
    ]
    assert len(json_items(Path(until["trades"]))) == 1
    closed(logger)


def test_export_from_csv_when_json_is_disabled(tmp_path: Path) -> None:
    trade_logger = TradeLogger("demo", tmp_path, enable_json=False)
    trade_logger.log_trade(trade(notes="=SUM(A1)", price=Decimal("67500.10"), realized_pnl=-1))
    trade_logger.log_decision(decision())
    paths = trade_logger.export_to_json(filename="csv_based")
    closed(trade_logger)
    assert not list((tmp_path / "json").glob("demo_trades_2*.json"))  # no daily JSON files
    (item,) = json_items(Path(paths["trades"]))
    assert item["timestamp"] == T0 and item["price"] == "67500.10" and item["size"] == 0.001
    assert item["realized_pnl"] == -1 and item["notes"] == "=SUM(A1)"
    assert item["spread_captured"] == 0.025
    (made,) = json_items(Path(paths["decisions"]))
    assert made["parameters"] == {"gamma": 0.1, "sigma": 0.02, "k": 1.5}
    row = csv_rows(tmp_path / "csv" / "demo_trades_20251024.csv")[0]
    assert row["notes"] == "'=SUM(A1)"  # the CSV file itself is safe to open in a spreadsheet


def test_export_covers_earlier_sessions_and_appends_to_seed_json(tmp_path: Path) -> None:
    # A seed-written daily JSON file (json.dump, indent=2) is continued, not replaced.
    (tmp_path / "json").mkdir()
    seed_file = tmp_path / "json" / "demo_trades_20251024.json"
    old = {"timestamp": T0 - 1, "order_id": "from_seed"}
    seed_file.write_text(json.dumps([old], indent=2), encoding="utf-8")
    with TradeLogger("demo", tmp_path) as first:
        first.log_trade(trade(order_id="session_1"))
    with TradeLogger("demo", tmp_path) as second:
        second.log_trade(trade(T0 + 1, order_id="session_2"))
        paths = second.export_to_json()
    assert [t["order_id"] for t in json_items(seed_file)] == ["from_seed", "session_1", "session_2"]
    exported = [t["order_id"] for t in json_items(Path(paths["trades"]))]
    assert exported == ["from_seed", "session_1", "session_2"]
    lines = csv_lines(tmp_path / "csv" / "demo_trades_20251024.csv")
    assert lines.count(TRADE_HEADER) == 1 and len(lines) == 3


# --- statistics ------------------------------------------------------------------------------


def test_summary_stats_match_the_seed_demo(logger: TradeLogger) -> None:
    assert logger.get_summary_stats() == {
        "total_trades": 0, "winning_trades": 0, "losing_trades": 0, "win_rate": 0.0,
        "total_pnl": 0.0, "total_fees": 0.0, "net_pnl": 0.0, "total_decisions": 0,
        "total_errors": 0, "error_breakdown": {},
    }  # fmt: skip
    for pnl in (0.5, 0.4, -0.2):
        logger.log_trade(trade(realized_pnl=pnl, fee=0.135))
    logger.log_decision(decision())
    logger.log_error(error())
    stats = logger.get_summary_stats()
    assert stats == {
        "total_trades": 3, "winning_trades": 2, "losing_trades": 1,
        "win_rate": 2 / 3 * 100, "total_pnl": 0.7, "total_fees": 0.405, "net_pnl": 0.295,
        "total_decisions": 1, "total_errors": 1, "error_breakdown": {"api_error": 1},
    }  # fmt: skip
    assert f"{stats['win_rate']:.2f}" == "66.67"
    assert type(stats["total_pnl"]) is float  # floats in, floats out, as the seed


def test_summary_stats_stay_exact_with_decimals(logger: TradeLogger) -> None:
    for pnl in ("0.1", "0.2", Decimal("-0.3"), 0):
        logger.log_trade(trade(realized_pnl=pnl, fee=Decimal("0.0001")))
    logger.log_error(error(error_type="order_failed"))
    logger.log_error(error(error_type="order_failed"))
    logger.log_error(error())
    stats = logger.get_summary_stats()
    assert stats["total_pnl"] == Decimal("0.0") and stats["total_fees"] == Decimal("0.0004")
    assert stats["net_pnl"] == Decimal("-0.0004")
    assert (stats["winning_trades"], stats["losing_trades"], stats["win_rate"]) == (2, 1, 50.0)
    assert stats["error_breakdown"] == {"order_failed": 2, "api_error": 1}


# --- rotation, threads, invalid entries ------------------------------------------------------


def test_files_rotate_by_utc_day_of_the_entry(logger: TradeLogger, tmp_path: Path) -> None:
    midnight = datetime(2025, 10, 25, tzinfo=timezone.utc).timestamp()
    logger.log_trade(trade(midnight - 0.000001, order_id="last_of_24"))
    logger.log_trade(trade(midnight, order_id="first_of_25"))
    logger.log_trade(trade(midnight + 86_399, order_id="last_of_25"))
    logger.log_error(error(midnight - 1))
    closed(logger)
    day24 = tmp_path / "csv" / "demo_trades_20251024.csv"
    day25 = tmp_path / "csv" / "demo_trades_20251025.csv"
    assert csv_lines(day24)[0] == csv_lines(day25)[0] == TRADE_HEADER
    assert [r["order_id"] for r in csv_rows(day24)] == ["last_of_24"]
    assert [r["order_id"] for r in csv_rows(day25)] == ["first_of_25", "last_of_25"]
    assert csv_rows(day24)[0]["datetime_utc"] == "2025-10-24T23:59:59.999999"
    assert csv_rows(day25)[0]["datetime_utc"] == "2025-10-25T00:00:00.000000"
    json24 = json_items(tmp_path / "json" / "demo_trades_20251024.json")
    json25 = json_items(tmp_path / "json" / "demo_trades_20251025.json")
    assert [t["order_id"] for t in json24] == ["last_of_24"]
    assert [t["order_id"] for t in json25] == ["first_of_25", "last_of_25"]
    assert (tmp_path / "csv" / "demo_errors_20251024.csv").exists()
    assert not (tmp_path / "csv" / "demo_errors_20251025.csv").exists()


def test_eight_threads_log_concurrently(tmp_path: Path) -> None:
    trade_logger = TradeLogger("demo", tmp_path, buffer_size=100)
    seqs: list[list[int]] = [[] for _ in range(8)]
    barrier = threading.Barrier(8)

    def work(thread: int) -> None:
        barrier.wait()
        for i in range(1000):
            entry = trade(T0 + i / 1000, order_id=f"t{thread}-{i}", realized_pnl=0.5, fee=0.125)
            seqs[thread].append(trade_logger.log_trade(entry))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = trade_logger.get_summary_stats()
    closed(trade_logger)
    assert sorted(s for per_thread in seqs for s in per_thread) == list(range(1, 8001))
    assert all(per_thread == sorted(per_thread) for per_thread in seqs)
    lines = csv_lines(tmp_path / "csv" / "demo_trades_20251024.csv")
    assert lines.count(TRADE_HEADER) == 1
    rows = csv_rows(tmp_path / "csv" / "demo_trades_20251024.csv")
    assert len(rows) == 8000
    assert {r["order_id"] for r in rows} == {f"t{t}-{i}" for t in range(8) for i in range(1000)}
    assert all(r["price"] == "67500.0" and r["fee"] == "0.125" for r in rows)
    items = json_items(tmp_path / "json" / "demo_trades_20251024.json")
    assert len(items) == 8000 and len({item["order_id"] for item in items}) == 8000
    assert stats["total_trades"] == stats["winning_trades"] == 8000
    assert (stats["total_pnl"], stats["total_fees"]) == (4000.0, 1000.0)


def test_two_loggers_of_one_strategy_share_files_safely(tmp_path: Path) -> None:
    loggers = [TradeLogger("demo", tmp_path, buffer_size=7) for _ in range(2)]

    def work(n: int) -> None:
        for i in range(500):
            loggers[n].log_trade(trade(T0 + i, order_id=f"l{n}-{i}", notes="x" * 300))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for trade_logger in loggers:
        closed(trade_logger)
    path = tmp_path / "csv" / "demo_trades_20251024.csv"
    assert csv_lines(path).count(TRADE_HEADER) == 1
    rows = csv_rows(path)
    assert len(rows) == 1000 and all(r["notes"] == "x" * 300 for r in rows)
    items = json_items(tmp_path / "json" / "demo_trades_20251024.json")
    assert sorted(t["order_id"] for t in items) == sorted(r["order_id"] for r in rows)


def test_json_entries_wait_in_a_bounded_buffer_until_flush(tmp_path: Path) -> None:
    trade_logger = TradeLogger("demo", tmp_path, buffer_size=4, schedule_delay=0.01)
    daily_json = tmp_path / "json" / "demo_trades_20251024.json"
    csv_file = tmp_path / "csv" / "demo_trades_20251024.csv"
    for i in range(3):
        trade_logger.log_trade(trade(T0 + i, order_id=f"o{i}"))
    deadline = time.monotonic() + 10
    while (not csv_file.exists() or len(csv_rows(csv_file)) < 3) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(csv_rows(csv_file)) == 3  # CSV: written as entries arrive
    assert not daily_json.exists()  # JSON: 3 < buffer_size, still in memory
    assert trade_logger.flush()
    assert [t["order_id"] for t in json_items(daily_json)] == ["o0", "o1", "o2"]
    for i in range(3, 8):  # 5 more: the buffer fills and is written without a flush
        trade_logger.log_trade(trade(T0 + i, order_id=f"o{i}"))
    deadline = time.monotonic() + 10
    while written_so_far(daily_json) < 7 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert written_so_far(daily_json) >= 7  # at least one full buffer of 4 was written
    closed(trade_logger)
    assert [t["order_id"] for t in json_items(daily_json)] == [f"o{i}" for i in range(8)]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"side": "HOLD"}, "side"),
        ({"price": math.nan}, "price"),
        ({"price": "abc"}, "price"),
        ({"size": 0}, "size"),
        ({"fee": math.inf}, "fee"),
        ({"symbol": ""}, "symbol"),
    ],
)
def test_invalid_trade_raises_and_writes_nothing(
    tmp_path: Path, fields: dict[str, Any], field: str
) -> None:
    trade_logger = TradeLogger("demo", tmp_path)
    with pytest.raises(InvalidRecordError) as caught:
        trade_logger.log_trade(trade(**fields))
    assert caught.value.field == field
    assert trade_logger.get_summary_stats()["total_trades"] == 0
    closed(trade_logger)
    assert trade_logger.health()["emitted"] == 0
    assert list((tmp_path / "csv").iterdir()) == list((tmp_path / "json").iterdir()) == []


def test_invalid_decisions_errors_and_timestamps(logger: TradeLogger, tmp_path: Path) -> None:
    with pytest.raises(InvalidRecordError) as caught:
        logger.log_decision(create_decision_entry("spread", "BTC-USDT", [1, 2], {}))  # type: ignore[arg-type]
    assert caught.value.field == "parameters"
    with pytest.raises(InvalidRecordError) as caught:
        logger.log_decision(create_decision_entry("spread", "X", {"sigma": math.nan}, {}))
    assert caught.value.field == "parameters.sigma"
    with pytest.raises(InvalidRecordError) as caught:
        logger.log_error(create_error_entry("api_error", "LOUD"))
    assert caught.value.field == "severity"
    with pytest.raises(InvalidRecordError) as caught:
        logger.log_trade(dataclasses.replace(trade(), timestamp=math.nan))
    assert caught.value.field == "timestamp"
    with pytest.raises(InvalidRecordError) as caught:
        trade(math.inf)
    assert caught.value.field == "timestamp"
    with pytest.raises(InvalidRecordError) as caught:
        logger.log_trade(decision())  # type: ignore[arg-type]
    assert caught.value.field == "entry"
    closed(logger)
    assert logger.health()["emitted"] == 0
    assert list((tmp_path / "csv").iterdir()) == []


def test_extra_tradetrace_exporters_next_to_the_seed_files(tmp_path: Path) -> None:
    with TradeLogger("demo", tmp_path, exporters=("csv", "jsonl")) as trade_logger:
        seq = trade_logger.log_trade(trade(price=Decimal("67500.10")))
        trade_logger.log_decision(decision())
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == [
        "demo_decisions_20251024.csv",
        "demo_trades_20251024.csv",
    ]
    assert csv_lines(tmp_path / "csv" / "demo_decisions_20251024.csv")[0] == DECISION_HEADER
    jsonl = tmp_path / "tradetrace" / "json" / "demo_fills_20251024.jsonl"
    (line,) = jsonl.read_text().splitlines()
    record = json.loads(line)
    assert record["seq"] == seq and record["attributes"]["trading.fill.price"] == "67500.10"
    (fill,) = csv_rows(tmp_path / "tradetrace" / "csv" / "demo_fills_20251024.csv")
    assert fill["seq"] == str(seq) and fill["price"] == "67500.10"


# --- integrate_with_trading_client -----------------------------------------------------------


class MarketMaker:
    """A small trading client with the three methods the seed hooks into."""

    symbol = "BTC-USDT"

    def __init__(self) -> None:
        self.fills: list[dict[str, Any]] = []
        self.inventory = 0.0
        self.limit = 0.002
        self.failure: Exception | None = None

    def on_order_filled(self, order_data: dict[str, Any]) -> str:
        self.fills.append(order_data)
        if self.failure is not None:
            raise self.failure
        self.inventory += float(order_data["size"]) * (1 if order_data["side"] == "BUY" else -1)
        return f"handled {order_data['orderId']}"

    def calculate_optimal_spread(
        self, gamma: float, sigma: float, k: float = 1.5
    ) -> tuple[float, float]:
        return gamma * sigma, gamma * sigma + 1 / k

    def check_risk_limits(self) -> tuple[bool, str]:
        if abs(self.inventory) > self.limit:
            return False, f"inventory {self.inventory} beyond {self.limit}"
        return True, "within limits"


def fill_dict(order_id: str, side: str = "BUY", **extra: Any) -> dict[str, Any]:
    data = {"orderId": order_id, "clientOrderId": f"c-{order_id}", "side": side,
            "price": "67500.1", "size": 0.002, "fee": 0.0135}  # fmt: skip
    data.update(extra)
    return data


def test_integrate_with_trading_client(tmp_path: Path) -> None:
    client = MarketMaker()
    trade_logger = TradeLogger("mm", tmp_path)
    handle = integrate_with_trading_client(client, trade_logger)
    assert handle.methods == ("on_order_filled", "calculate_optimal_spread", "check_risk_limits")

    assert client.on_order_filled(fill_dict("o1")) == "handled o1"  # result unchanged
    assert client.calculate_optimal_spread(0.1, sigma=0.02) == (0.1 * 0.02, 0.1 * 0.02 + 1 / 1.5)
    assert client.check_risk_limits() == (True, "within limits")  # safe: nothing logged
    assert client.on_order_filled(fill_dict("o2", feeAsset="USDT")) == "handled o2"
    breach = client.check_risk_limits()
    assert breach == (False, "inventory 0.004 beyond 0.002")
    stats = trade_logger.get_summary_stats()
    assert (stats["total_trades"], stats["total_decisions"], stats["total_errors"]) == (2, 1, 1)
    assert handle.failures == 0
    closed(trade_logger)

    trades = rows_of(tmp_path, "mm_trades")
    assert [(t["order_id"], t["client_order_id"], t["side"]) for t in trades] == [
        ("o1", "c-o1", "BUY"),
        ("o2", "c-o2", "BUY"),
    ]
    assert (trades[0]["symbol"], trades[0]["price"], trades[0]["size"]) == (
        "BTC-USDT", "67500.1", "0.002",
    )  # fmt: skip
    assert (trades[0]["fee"], trades[1]["fee_asset"]) == ("0.0135", "USDT")
    (made,) = rows_of(tmp_path, "mm_decisions")
    assert made["decision_type"] == "spread_calculation" and made["symbol"] == "BTC-USDT"
    assert json.loads(made["parameters"]) == {"gamma": 0.1, "sigma": 0.02, "k": 1.5}
    assert json.loads(made["result"]) == {
        "bid_spread": 0.1 * 0.02,
        "ask_spread": 0.1 * 0.02 + 1 / 1.5,
    }
    (risk,) = rows_of(tmp_path, "mm_errors")
    assert (risk["error_type"], risk["severity"], risk["symbol"]) == (
        "risk_breach", "CRITICAL", "BTC-USDT",
    )  # fmt: skip
    assert risk["message"] == "Risk limit breached: inventory 0.004 beyond 0.002"
    assert risk["recovery_action"] == "Emergency shutdown, all orders cancelled"


def test_client_exceptions_pass_through_and_logging_failures_do_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = MarketMaker()
    trade_logger = TradeLogger("mm", tmp_path)
    handle = integrate_with_trading_client(client, trade_logger)
    failure = ConnectionError("venue gone")
    client.failure = failure
    with pytest.raises(ConnectionError) as caught:
        client.on_order_filled(fill_dict("o1"))
    assert caught.value is failure and handle.failures == 0
    assert trade_logger.get_summary_stats()["total_trades"] == 1  # the fill happened: logged
    with pytest.raises(TypeError):  # the client's own argument error, untouched
        client.calculate_optimal_spread()
    client.failure = None

    with caplog.at_level(logging.WARNING, logger="tradetrace"):
        assert client.on_order_filled(fill_dict("o2", price="NaN")) == "handled o2"
        assert client.on_order_filled(fill_dict("o3", side="HOLD")) == "handled o3"
    assert handle.failures == 2
    assert len([r for r in caplog.records if "trade_logger_hook" in r.getMessage()]) == 1
    stats = trade_logger.get_summary_stats()
    assert stats["total_trades"] == 1
    assert stats["error_breakdown"] == {"instrumentation_error": 2}
    assert trade_logger.health()["internal_errors"] == {"trade_logger_hook": 2}
    assert trade_logger.close()
    problems = rows_of(tmp_path, "mm_errors")
    assert [p["severity"] for p in problems] == ["WARNING", "WARNING"]
    assert problems[0]["message"].startswith("on_order_filled: not logged: price='NaN'")


def test_uninstrument_restores_the_original_methods(tmp_path: Path) -> None:
    client = MarketMaker()
    own_risk_check = client.check_risk_limits
    client.check_risk_limits = own_risk_check  # an instance attribute of its own
    with TradeLogger("mm", tmp_path) as trade_logger:
        handle = integrate_with_trading_client(client, trade_logger)
        again = integrate_with_trading_client(client, trade_logger)  # no double logging
        assert again.methods == ()
        client.on_order_filled(fill_dict("o1"))
        assert trade_logger.get_summary_stats()["total_trades"] == 1
        handle.uninstrument()
        handle.uninstrument()  # idempotent
        assert "on_order_filled" not in vars(client)
        assert client.on_order_filled.__func__ is MarketMaker.on_order_filled
        assert client.calculate_optimal_spread.__func__ is MarketMaker.calculate_optimal_spread
        assert vars(client)["check_risk_limits"] is own_risk_check
        assert handle.methods == ()
        client.on_order_filled(fill_dict("o2"))
        client.calculate_optimal_spread(0.1, 0.02)
        stats = trade_logger.get_summary_stats()
        assert (stats["total_trades"], stats["total_decisions"]) == (1, 0)


def test_async_client_methods_are_wrapped(tmp_path: Path) -> None:
    class AsyncClient:
        symbol = "ETH-USDT"

        async def on_order_filled(self, order_data: dict[str, Any]) -> int:
            await asyncio.sleep(0)
            return 7

    client = AsyncClient()
    with TradeLogger("amm", tmp_path) as trade_logger:
        handle = integrate_with_trading_client(client, trade_logger)
        assert handle.methods == ("on_order_filled",)
        assert asyncio.run(client.on_order_filled(fill_dict("a1", side="sell"))) == 7
    (row,) = rows_of(tmp_path, "amm_trades")
    assert (row["order_id"], row["symbol"], row["side"]) == ("a1", "ETH-USDT", "SELL")


# --- the migration example -------------------------------------------------------------------


def test_example_reproduces_the_seed_demo(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "migrate_from_trade_logger.py"), str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = (
        "=== Summary Stats ===\n"
        "total_trades: 3\n"
        "winning_trades: 2\n"
        "losing_trades: 1\n"
        "win_rate: 66.67%\n"
        "total_pnl: 0.70\n"
        "total_fees: 0.405\n"
        "net_pnl: 0.295\n"
        "total_decisions: 1\n"
        "total_errors: 1\n"
        "error_breakdown: {'api_error': 1}\n"
    )
    assert expected in done.stdout
    assert done.stdout.index("Logging trades...") < done.stdout.index("=== Summary Stats ===")
    exports = dict(
        line.split(": ", 1)
        for line in done.stdout.splitlines()
        if line.startswith(("trades: ", "decisions: ", "errors: "))
    )
    json_dir = tmp_path / "logs" / "data" / "json"
    assert Path(exports["trades"]).parent == json_dir
    name = Path(exports["trades"]).name
    assert re.fullmatch(r"demo_strategy_trades_export_\d{8}_\d{6}\.json", name)
    trades = json_items(Path(exports["trades"]))
    assert [t["realized_pnl"] for t in trades] == [0.5, 0.4, -0.2]
    assert [t["side"] for t in trades] == ["BUY", "SELL", "BUY"]
    assert json_items(Path(exports["errors"]))[0]["exception_message"] == "Rate limit exceeded"
    (trades_csv,) = (tmp_path / "logs" / "data" / "csv").glob("demo_strategy_trades_*.csv")
    assert [r["notes"] for r in csv_rows(trades_csv)] == [f"Demo trade {i}" for i in (1, 2, 3)]
