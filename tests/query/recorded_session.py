"""A real recorded trading session for the query and CLI tests, with its hand-computed numbers.

Imported by ``tests/query/conftest.py``; run as a script by ``tests/e2e/test_cli.py``:
``python recorded_session.py DIRECTORY csv,jsonl,...`` records the session,
``python recorded_session.py --crash DIRECTORY csv,jsonl,...`` records a run whose process ends
(``os._exit``) inside a bundle after its children were flushed.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import tradetrace
from tradetrace.exporters.registry import FACTORIES

START = "2024-05-12T10:00:00Z"
FILE_FORMATS: tuple[str, ...] = ("csv", "jsonl")
TABLE_FORMATS: tuple[str, ...] = ("duckdb", "parquet")
#: Exporter names whose output is a query SOURCE format of the same name.
READ_FORMAT = {"csv": "csv", "jsonl": "jsonl", "duckdb": "duckdb", "parquet": "parquet"}


def available_exporters() -> tuple[str, ...]:
    """csv and jsonl, plus duckdb and parquet when their exporters are registered."""
    return FILE_FORMATS + tuple(name for name in TABLE_FORMATS if name in FACTORIES)


# --- the numbers, computed by hand ----------------------------------------------------------
# fills (realized PnL, fee, fee in USDT):
#   f1 BTC-USDT BUY  0.01 @ 60000    pnl  0     fee 0.6 USDT                    -> 0.6
#   f2 BTC-USDT SELL 0.01 @ 61000    pnl 10     fee 0.00001 BTC x 61000         -> 0.61
#   f3 ETH/USDT BUY  0.5  @ 3000     pnl -2.5   fee 0.75 USDT                   -> 0.75
#   (next UTC day)
#   f4 ETH/USDT SELL 0.5  @ 3010.5   pnl 5.25   fee 0.0005 ETH x 3010.5         -> 1.50525
#   f5 BTC-USDT BUY  0.02 @ 59000    pnl -1.25  fee 0.01 BNB (neither asset)    -> not converted
# trades 5; winning 2 (f2, f4); losing 2 (f3, f5); f1 (zero PnL) is neither
# win rate 2 / 5 * 100 = 40.0
# total PnL 0 + 10 - 2.5 + 5.25 - 1.25 = 11.5
# total fees 0.6 + 0.61 + 0.75 + 1.50525 = 3.46525; net 11.5 - 3.46525 = 8.03475
# decisions: spread_calculation, order_placement, rebalance (in the span) = 3
# errors: api_error x2, order_failed, strategy_error = 4
EXPECTED_SUMMARY: dict[str, object] = {
    "total_trades": 5,
    "winning_trades": 2,
    "losing_trades": 2,
    "win_rate": 40.0,
    "total_pnl": Decimal("11.5"),
    "total_fees": Decimal("3.46525"),
    "net_pnl": Decimal("8.03475"),
    "total_decisions": 3,
    "total_errors": 4,
    "error_breakdown": {"api_error": 2, "order_failed": 1, "strategy_error": 1},
    "unconverted_fees": {"BNB": Decimal("0.01")},
}
# pnl_daily (day, symbol): trades, volume = sum(price x size), fees, realized, net
#   05-12 BTC-USDT: 2, 600 + 610 = 1210, 0.6 + 0.61 = 1.21, 10, 8.79
#   05-12 ETH/USDT: 1, 1500, 0.75, -2.5, -3.25
#   05-13 BTC-USDT: 1, 1180, 0 (BNB), -1.25, -1.25
#   05-13 ETH/USDT: 1, 1505.25, 1.50525, 5.25, 3.74475
EXPECTED_PNL_DAILY: list[tuple[str, str, int, str, str, str, str]] = [
    ("2024-05-12", "BTC-USDT", 2, "1210", "1.21", "10", "8.79"),
    ("2024-05-12", "ETH/USDT", 1, "1500", "0.75", "-2.5", "-3.25"),
    ("2024-05-13", "BTC-USDT", 1, "1180", "0", "-1.25", "-1.25"),
    ("2024-05-13", "ETH/USDT", 1, "1505.25", "1.50525", "5.25", "3.74475"),
]
WIDE_AMOUNT = "0.1234567890123456789012"  # 22 decimal places: too wide for DECIMAL(38,18)


@dataclass
class Session:
    """Where the session was written and the seqs the tests look for."""

    directory: Path
    run_id: str
    exporters: tuple[str, ...]
    seqs: dict[str, int] = field(default_factory=dict)


def _recorder(
    directory: Path, exporters: tuple[str, ...]
) -> tuple[tradetrace.Recorder, tradetrace.SimulatedClock]:
    clock = tradetrace.SimulatedClock(START)
    recorder = tradetrace.Recorder(
        service_name="s", exporters=exporters, directory=directory, clock=clock, mode="live"
    )
    return recorder, clock


def record_session(directory: str | Path, exporters: tuple[str, ...]) -> Session:
    """Record the session and shut down; fails if any exporter lost a record."""
    rec, clock = _recorder(Path(directory), exporters)
    seqs: dict[str, int] = {}
    second = 1_000_000_000
    seqs["f1"] = rec.record_fill(
        symbol="BTC-USDT", side="BUY", price="60000", quantity="0.01", fee="0.6",
        fee_currency="USDT", order_id="o-1", client_order_id="c-1", order_type="LIMIT",
        realized_pnl="0", inventory_before="0", inventory_after="0.01",
        equity_before="1000", equity_after="999.4", notes="-opening trade",
    )  # fmt: skip
    clock.advance(second)
    seqs["decision"] = rec.record_decision(
        "spread_calculation", symbol="BTC-USDT", inputs={"gamma": 0.1, "sigma": 0.02, "k": 1.5},
        result={"bid_spread": 0.025, "ask_spread": 0.03}, reason="=Avellaneda-Stoikov",
    )  # fmt: skip
    seqs["risk_ok"] = rec.record_risk_check(
        "inventory_limit", passed=True, limit="0.05", observed="0.01", symbol="BTC-USDT"
    )
    seqs["f2"] = rec.record_fill(
        symbol="BTC-USDT", side="SELL", price="61000", quantity="0.01", fee="0.00001",
        fee_currency="BTC", order_id="o-2", realized_pnl="10", liquidity_side="MAKER",
        strategy_tag="mm",
    )  # fmt: skip
    seqs["f3"] = rec.record_fill(
        symbol="ETH/USDT", side="BUY", price="3000", quantity="0.5", fee="0.75",
        fee_currency="USDT", order_id="o-3", realized_pnl="-2.5",
    )  # fmt: skip
    seqs["risk_failed"] = rec.record_risk_check(
        "inventory_limit", passed=False, reason="inventory 0.08 > 0.05", limit="0.05",
        observed="0.08",
    )  # fmt: skip
    for error_type, message in (("api_error", "Rate limit exceeded"),
                                ("api_error", "Timeout"),
                                ("order_failed", "Insufficient margin")):  # fmt: skip
        try:
            raise ConnectionError(message)
        except ConnectionError as exc:
            rec.record_error(error_type, exception=exc, severity="WARNING",
                             recovery_action="Retry after 1 second")  # fmt: skip
    seqs["stake"] = rec.record_event(
        "STAKE_DEPOSIT", venue="ETHERFI", token="ETH", amount=WIDE_AMOUNT,
        snapshot={"wallet": {"ETH": "49.9965"}, "cex_accounts": {}},
    )  # fmt: skip
    clock.advance(second)
    seqs["submitted"] = rec.update_event(seqs["stake"], "submitted", tx_hash="0xabc123")
    clock.advance(second)
    seqs["confirmed"] = rec.update_event(seqs["stake"], "confirmed", confirmation_blocks=12)
    with rec.bundle("ATOMIC_LEVERAGE_ENTRY", net_result={"collateral": "95.24"}) as bundle:
        seqs["bundle"] = bundle.seq
        seqs["borrow"] = bundle.record_event(
            "FLASH_BORROW", venue="BALANCER", token="WETH", amount="88.7"
        )
        seqs["deposit"] = rec.record_event(
            "STAKE_DEPOSIT", venue="ETHERFI", token="ETH", amount="88.7"
        )
    with rec.span("rebalance", symbol="ETH/USDT") as span:
        seqs["span"] = span.seq
        seqs["rebalance"] = rec.record_decision("rebalance", reason="inventory skew")
    seqs["order"] = rec.record_order(
        "submit", symbol="ETH/USDT", side="SELL", order_type="LIMIT", price="3010.5",
        quantity="0.5", order_id="o-4",
    )  # fmt: skip
    clock.advance_to("2024-05-13T09:00:00Z")
    seqs["f4"] = rec.record_fill(
        symbol="ETH/USDT", side="SELL", price="3010.5", quantity="0.5", fee="0.0005",
        fee_currency="ETH", order_id="o-4", realized_pnl="5.25",
    )  # fmt: skip
    seqs["order_decision"] = rec.record_decision(
        "order_placement", symbol="BTC-USDT", inputs={"side": "BUY"}, result="place"
    )
    seqs["f5"] = rec.record_fill(
        symbol="BTC-USDT", side="BUY", price="59000", quantity="0.02", fee="0.01",
        fee_currency="BNB", order_id="o-5", realized_pnl="-1.25",
    )  # fmt: skip
    try:
        raise ValueError("negative spread")
    except ValueError as exc:
        seqs["strategy_error"] = rec.record_error(
            "strategy_error", exception=exc, severity="ERROR", symbol="BTC-USDT"
        )
    run_id = rec.run_id
    assert rec.shutdown(30), rec.health()
    health = rec.health()
    for name in exporters:
        counters = health["exporters"][name]
        assert counters["exported"] == health["emitted"] and counters["failed"] == 0, health
    return Session(Path(directory), run_id, exporters, seqs)


def record_crash(directory: str | Path, exporters: tuple[str, ...]) -> None:
    """Record a few records, open a bundle, record two children, flush, and end the process
    inside the bundle: its seq is taken, never written."""
    rec, clock = _recorder(Path(directory), exporters)
    rec.record_fill(symbol="BTC-USDT", side="BUY", price="60000", quantity="0.01")
    rec.record_decision("spread_calculation", reason="before the crash")
    bundle = rec.bundle("ATOMIC_DELEVERAGE")
    bundle.__enter__()
    clock.advance(1_000_000_000)
    bundle.record_event("FLASH_BORROW", venue="BALANCER", token="WETH", amount="10")
    bundle.record_event("AAVE_REPAY", venue="AAVE", token="WETH", amount="10")
    assert rec.flush(30)
    print(f"{rec.run_id} {bundle.seq}", flush=True)
    os._exit(3)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    crash = arguments[0] == "--crash"
    if crash:
        arguments = arguments[1:]
    target, names = Path(arguments[0]), tuple(arguments[1].split(","))
    if crash:
        record_crash(target, names)
    else:
        print(record_session(target, names).run_id)
