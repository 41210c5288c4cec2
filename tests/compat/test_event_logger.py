"""tradetrace.compat.EventLogger / AsyncEventLogger against the seed's promises.

The seed's three tests come first, as the seed wrote them except where its own text cannot run
(each adaptation is named in a comment). Files are read back after ``close()``.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

import tradetrace as tt
from tradetrace import semconv as sc
from tradetrace.compat import AsyncEventLogger, EventLogger
from tradetrace.exporters.memory import MemoryExporter

# The seed's tests use a module-level ``timestamp`` they never define; this is the seed's own
# backtest example time.
timestamp = pd.Timestamp("2024-05-12 14:00:00", tz="UTC")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test in its own directory (``EventLogger()`` writes under ``logs/events``), with no
    mode from the environment unless the test sets one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BASIS_EXECUTION_MODE", raising=False)
    monkeypatch.delenv("TRADETRACE_MODE", raising=False)
    monkeypatch.delenv("BASIS_ENVIRONMENT", raising=False)
    yield


# --- the seed's tests ------------------------------------------------------------------------
# Adapted only where the seed's text cannot run: ``timestamp`` (module level, above), the elided
# details of the atomic test, and ``logger.close()`` at the end (the seed kept events in memory
# only; these loggers write files).


def test_global_order_unique() -> None:
    """Test each event gets unique order."""
    logger = EventLogger()

    # As the seed: ``timestamp`` positionally, no await. (The seed's spec declares log_event
    # ``async def`` yet its tests call it plainly: EventLogger's methods are plain calls,
    # AsyncEventLogger's are the coroutines.)
    order1 = logger.log_event(timestamp, "GAS_FEE_PAID", "ETHEREUM")
    order2 = logger.log_event(timestamp, "STAKE_DEPOSIT", "ETHERFI")

    assert order1 == 1
    assert order2 == 2
    assert order1 != order2
    logger.close()


def test_atomic_bundle_logging() -> None:
    """Test wrapper + detail events for atomic transactions."""
    logger = EventLogger()

    orders = logger.log_atomic_transaction(
        timestamp=timestamp,
        bundle_name="ATOMIC_LEVERAGE_ENTRY",
        # The seed elides the details ("..." and "# ... 6 steps"); these are the six steps of
        # its leveraged-staking entry, with the fields its log_event takes.
        detail_events=[
            {"event_type": "FLASH_BORROW", "venue": "BALANCER", "token": "WETH", "amount": 88.7},
            {
                "event_type": "STAKE_DEPOSIT",
                "venue": "ETHERFI",
                "token": "ETH",
                "amount": 100.0,
                "output_token": "weETH",
                "amount_out": 96.12,
            },
            {
                "event_type": "COLLATERAL_SUPPLIED",
                "venue": "AAVE",
                "token": "weETH",
                "amount": 96.12,
                "atoken_received": 95.24,
            },
            {"event_type": "LOAN_CREATED", "venue": "AAVE", "token": "WETH", "amount": 88.7},
            {"event_type": "FLASH_REPAID", "venue": "BALANCER", "token": "WETH", "amount": 88.7},
            {"event_type": "GAS_FEE_PAID", "venue": "ETHEREUM", "token": "ETH", "amount": 0.004},
        ],
        net_result={"collateral": 95.24, "debt": 88.7},
    )

    # 1 wrapper + 6 details = 7 events
    assert len(orders) == 7
    assert logger.events[0]["event_type"] == "ATOMIC_TRANSACTION"
    assert logger.events[1]["parent_event"] == orders[0]
    logger.close()


def test_balance_snapshots_included() -> None:
    """Test position snapshots included in events."""
    logger = EventLogger(include_balance_snapshots=True)

    snapshot = {
        "wallet": {"ETH": 49.9965, "aWeETH": 95.24},
        "cex_accounts": {"binance": {"USDT": 24992.50}},
    }

    logger.log_event(
        timestamp=timestamp,
        event_type="GAS_FEE_PAID",
        venue="ETHEREUM",
        position_snapshot=snapshot,
    )

    event = logger.events[0]
    assert event["wallet_balance_after"] == snapshot  # Full Position Monitor output
    assert event["cex_balance_after"] == snapshot["cex_accounts"]
    logger.close()


# --- beyond the seed's tests -----------------------------------------------------------------


def _rows(directory: Path, suffix: str = "csv") -> list[dict[str, Any]]:
    """Every event row of every day's file, by seq."""
    rows: list[dict[str, Any]] = []
    if suffix == "csv":
        for path in (directory / "csv").glob("*_events_*.csv"):
            with open(path, newline="", encoding="utf-8") as file:
                rows += csv.DictReader(file)
    else:
        for path in (directory / "json").glob("*_events_*.jsonl"):
            rows += [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return sorted(rows, key=lambda row: int(row["seq"]))


def test_seed_event_shape_and_files(tmp_path: Path) -> None:
    logger = EventLogger()
    snapshot = {"wallet": {"ETH": 49.9965}, "perp_positions": {"binance": {"ETHUSDT": -10}}}
    gas = logger.log_gas_fee(timestamp, 0.0035, 10.5, "STAKE", 150_000, 23.3, snapshot)
    stake = logger.log_stake(timestamp, "ETHERFI", Decimal("10"), Decimal("9.6"), "1.0416", 1)
    supply = logger.log_aave_supply(timestamp, "weETH", "9.6", "9.41", "1.02", iteration=1)
    perp = logger.log_perp_trade(
        timestamp, "binance", "ETHUSDT", "SHORT", -2.5, 3000.5, 7501.25, 3.75
    )
    funding = logger.log_funding_payment(timestamp, "binance", 0.0001, 7501.25, 0.75)
    custom = logger.log_event(
        timestamp,
        "PRICE_UPDATE",
        "CHAINLINK",
        "ETH",
        "3000.25",
        purpose="hourly price",
        related_events=[gas, stake],
        parent_event=gas,
        source="oracle",
    )
    assert [gas, stake, supply, perp, funding, custom] == [1, 2, 3, 4, 5, 6]
    assert logger.global_order == 6 and logger.last_log_timestamp == timestamp
    events = {e["order"]: e for e in logger.events}
    for event in events.values():
        assert list(event)[:26] == [
            "timestamp",
            "order",
            "status",
            "event_type",
            "event_id",
            "venue",
            "token",
            "amount",
            "wallet_balance_after",
            "cex_balance_after",
            "aave_position_after",
            "gas_cost_eth",
            "gas_cost_usd",
            "gas_units",
            "gas_price_gwei",
            "execution_cost_usd",
            "execution_cost_bps",
            "purpose",
            "transaction_type",
            "related_events",
            "iteration",
            "parent_event",
            "trigger_timestamp",
            "completion_timestamp",
            "tx_hash",
            "confirmation_blocks",
        ]
        assert event["timestamp"] == timestamp and event["status"] == "completed"
    g = events[gas]
    assert (g["event_type"], g["venue"], g["token"], g["amount"]) == (
        "GAS_FEE_PAID",
        "ETHEREUM",
        "ETH",
        0.0035,
    )
    assert (g["gas_cost_usd"], g["gas_units"], g["gas_price_gwei"], g["fee_type"]) == (
        10.5,
        150_000,
        23.3,
        "STAKE",
    )
    assert g["wallet_balance_after"] == snapshot and g["cex_balance_after"] is None
    assert g["aave_position_after"] == {
        "wallet": {"ETH": 49.9965},
        "perp_positions": {"binance": {"ETHUSDT": -10}},
    }
    s = events[stake]
    assert (s["output_token"], s["amount_out"], s["oracle_price"], s["iteration"]) == (
        "weETH",
        Decimal("9.6"),
        Decimal("1.0416"),
        1,
    )
    assert events[supply]["conversion_note"] == "9.6 weETH → 9.41 aweETH (index=1.02)"
    p = events[perp]
    assert (p["venue"], p["amount"], p["side"], p["instrument"], p["token"]) == (
        "BINANCE",
        2.5,
        "SHORT",
        "ETHUSDT",
        "ETH",
    )
    f = events[funding]
    assert (f["venue"], f["token"], f["amount"], f["pnl_type"]) == (
        "BINANCE",
        "USDT",
        0.75,
        "RECEIVED",
    )
    c = events[custom]
    assert c["related_events"] == [gas, stake] and c["parent_event"] == gas
    assert c["purpose"] == "hourly price" and c["source"] == "oracle"
    assert c["amount"] == Decimal("3000.25")
    assert logger.close()
    rows = {int(r["seq"]): r for r in _rows(tmp_path / "logs" / "events")}
    assert rows[gas]["gas_cost_eth"] == "0.0035" and rows[gas]["fee_type"] == "STAKE"
    assert json.loads(rows[gas]["wallet_balance_after"]) == snapshot
    assert rows[stake]["amount_out"] == "9.6" and rows[stake]["output_token"] == "weETH"
    assert rows[custom]["parent_seq"] == str(gas) and rows[custom]["amount"] == "3000.25"
    assert json.loads(rows[custom]["attributes"]) == {"source": "oracle"}
    jsonl = {item["seq"]: item for item in _rows(tmp_path / "logs" / "events", "jsonl")}
    assert jsonl[stake]["attributes"][sc.LEDGER_AMOUNT] == "10"


def test_async_event_logger_awaits_the_same_methods_in_order() -> None:
    logger = AsyncEventLogger(config={"event_export_format": "json"})

    async def task(index: int) -> list[int]:
        orders = [await logger.log_gas_fee(timestamp, 0.001, 3.0, "SWAP", 21_000, 10)]
        await asyncio.sleep(0)
        orders += await logger.log_atomic_transaction(
            timestamp,
            "ATOMIC_LEVERAGE_ENTRY",
            [
                {
                    "event_type": "FLASH_BORROW",
                    "venue": "BALANCER",
                    "token": "WETH",
                    "amount": index,
                },
                {
                    "event_type": "FLASH_REPAID",
                    "venue": "BALANCER",
                    "token": "WETH",
                    "amount": index,
                },
            ],
            {"task": index},
        )
        orders.append(await logger.log_event(timestamp, "PRICE_UPDATE", "CHAINLINK", "ETH", 3000))
        return orders

    async def main() -> list[list[int]]:
        async with logger:
            return await asyncio.gather(*(task(i + 1) for i in range(50)))

    results = asyncio.run(main())
    assert sorted(o for orders in results for o in orders) == list(range(1, 251))
    events = {e["order"]: e for e in logger.events}
    for index, (_, wrapper, borrow, repay, _) in enumerate(results, start=1):
        assert events[wrapper]["net_result"] == {"task": index}
        assert events[borrow]["parent_event"] == events[repay]["parent_event"] == wrapper
        assert events[borrow]["amount"] == index
    assert asyncio.iscoroutinefunction(AsyncEventLogger.log_stake)
    assert not asyncio.iscoroutinefunction(AsyncEventLogger.update_event)
    assert list((Path("logs/events")).iterdir()) == [Path("logs/events/json")]


def test_live_lifecycle_with_the_seed_updates() -> None:
    logger = EventLogger(execution_mode="live")
    order = logger.log_stake(timestamp, "ETHERFI", 10, 9.6, 1.04)
    other = logger.log_gas_fee(timestamp, 0.001, 3.0, "STAKE", 21_000, 10)
    assert logger.events[0]["status"] == "pending"
    # the seed's live example, verbatim
    logger.update_event(order, {"status": "submitted", "tx_hash": "0xabc123..."})
    confirmed_at = pd.Timestamp("2024-05-12 14:00:12", tz="UTC")
    logger.update_event(
        order,
        {"status": "confirmed", "completion_timestamp": confirmed_at, "confirmation_blocks": 12},
    )
    event = logger.get_events()[0]
    assert event["status"] == "confirmed" and event["tx_hash"] == "0xabc123..."
    assert event["completion_timestamp"] == confirmed_at and event["confirmation_blocks"] == 12
    assert logger.event_status(order) == "confirmed"
    with pytest.raises(tt.LifecycleError, match="'confirmed'; it cannot become 'pending'"):
        logger.update_event(order, {"status": "pending"})
    logger.update_event(other, status="failed", reason="out of gas")
    with pytest.raises(tt.LifecycleError, match="'failed'; it cannot become 'submitted'"):
        logger.update_event(other, {"status": "submitted"})
    assert logger.events[1]["status"] == "failed"
    assert logger.events[1]["failure_reason"] == "out of gas"
    with pytest.raises(tt.InvalidRecordError) as raised:
        logger.update_event(99, {"status": "confirmed"})
    assert raised.value.field == "order"
    with pytest.raises(tt.InvalidRecordError, match="must include the new 'status'"):
        logger.update_event(order, {"tx_hash": "0x1"})
    with pytest.raises(tt.InvalidRecordError) as raised:
        logger.update_event(order, {"status": "completed", "confirmation_blocks": -1})
    assert raised.value.field == "confirmation_blocks"
    assert logger.event_status(order) == "confirmed"  # refused updates changed nothing
    assert logger.close()
    statuses = [(int(r["seq"]), r["status"], r["updates_seq"]) for r in _rows(Path("logs/events"))]
    assert statuses == [
        (1, "pending", ""),
        (2, "pending", ""),
        (3, "submitted", "1"),
        (4, "confirmed", "1"),
        (5, "failed", "2"),
    ]


def test_backtest_events_are_completed_and_cannot_move() -> None:
    logger = EventLogger()
    order = logger.log_event(timestamp, "REBALANCE_EXECUTED", "INTERNAL")
    assert logger.events[0]["status"] == "completed"
    with pytest.raises(tt.LifecycleError):
        logger.update_event(order, {"status": "confirmed"})
    logger.close()


def test_execution_mode_comes_from_the_argument_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def mode() -> str:
        with EventLogger() as logger:
            return logger.execution_mode

    assert mode() == "backtest"
    monkeypatch.setenv("TRADETRACE_MODE", "live")
    assert mode() == "live"
    monkeypatch.setenv("BASIS_EXECUTION_MODE", "backtest")
    logger = EventLogger()
    assert logger.execution_mode == "backtest" and logger.recorder.mode == "backtest"
    monkeypatch.setenv("BASIS_EXECUTION_MODE", "live")
    assert logger.execution_mode == "backtest"  # read once, at init
    logger.close()
    with EventLogger(execution_mode="backtest") as explicit:
        assert explicit.execution_mode == "backtest"
    with EventLogger() as live:
        assert live.events == [] and live.execution_mode == "live"
        live.log_event(timestamp, "PRICE_UPDATE", "CHAINLINK")
        assert live.events[0]["status"] == "pending"
    monkeypatch.setenv("BASIS_EXECUTION_MODE", "paper")
    with pytest.raises(ValueError, match="BASIS_EXECUTION_MODE='paper'"):
        EventLogger()
    with pytest.raises(ValueError, match="execution_mode='simulated'"):
        EventLogger(execution_mode="simulated")


@pytest.mark.parametrize("size", [0, 100_000, -1, "10", True, 2.5])
def test_event_buffer_size_is_validated(size: Any) -> None:
    with pytest.raises(ValueError) as raised:
        EventLogger(config={"event_buffer_size": size})
    assert str(raised.value).startswith(f"event_buffer_size={size!r}: must be an int > 0")
    assert "< 100000" in str(raised.value)


def test_event_buffer_keeps_the_last_n_events() -> None:
    config = {"event_buffer_size": 5, "strategy_mode": "eth_basis"}
    logger = EventLogger(config=config)
    orders = [
        logger.log_event(timestamp, "PRICE_UPDATE", "CHAINLINK", "ETH", 3000 + i) for i in range(12)
    ]
    assert [e["order"] for e in logger.events] == orders[-5:]
    assert [e["amount"] for e in logger.events] == [3007, 3008, 3009, 3010, 3011]
    assert logger.global_order == 12
    assert config == {"event_buffer_size": 5, "strategy_mode": "eth_basis"}  # never modified
    assert logger.recorder.run.strategy == "eth_basis"
    logger.close()
    with EventLogger(config={"event_buffer_size": 99_999}) as largest:
        assert largest.event_buffer_size == 99_999


@pytest.mark.parametrize(
    ("export_format", "folders"),
    [("csv", ["csv"]), ("json", ["json"]), ("both", ["csv", "json"]), (None, ["csv", "json"])],
)
def test_event_export_format_chooses_the_files(
    export_format: str | None, folders: list[str]
) -> None:
    config = {} if export_format is None else {"event_export_format": export_format}
    with EventLogger(config=config) as logger:
        logger.log_event(timestamp, "PRICE_UPDATE", "CHAINLINK", "ETH", 3000)
        # resolved now: files open later, on the exporter thread, whatever the cwd is then
        assert logger.recorder.directory == Path.cwd() / "logs" / "events"
    assert sorted(p.name for p in Path("logs/events").iterdir()) == folders
    for folder in folders:
        assert list(Path("logs/events", folder).glob("event_log_events_20240512.*"))


@pytest.mark.parametrize("bad", ["xml", "JSON", 1])
def test_event_export_format_is_validated(bad: Any) -> None:
    with pytest.raises(ValueError, match="must be 'csv', 'json' or 'both'"):
        EventLogger(config={"event_export_format": bad})


def test_snapshots_can_be_left_out() -> None:
    logger = EventLogger(include_balance_snapshots=False)
    logger.log_gas_fee(timestamp, 0.001, 3.0, "STAKE", 21_000, 10, {"wallet": {"ETH": 1.0}})
    logger.log_atomic_transaction(
        timestamp,
        "X",
        [
            {
                "event_type": "FLASH_BORROW",
                "venue": "BALANCER",
                "amount": 1,
                "position_snapshot": {"wallet": {"ETH": 2.0}},
            }
        ],
        {},
        position_snapshot={"wallet": {"ETH": 3.0}},
    )
    assert all(e["wallet_balance_after"] is None for e in logger.events)
    assert logger.close()
    assert all(not r["wallet_balance_after"] for r in _rows(Path("logs/events")))


def test_large_repeated_snapshot_is_stored_once_and_shown_on_every_event() -> None:
    big = {
        "wallet": {f"COIN{i}": 1000.0 + i for i in range(200)},
        "cex_accounts": {"binance": {"USDT": 24992.5}},
    }
    logger = EventLogger(config={"event_buffer_size": 3})
    orders = [
        logger.log_gas_fee(timestamp, 0.001, 3.0, "STAKE", 21_000, 10, dict(big)) for _ in range(6)
    ]
    events = logger.events  # the first (with the content) has left the buffer
    assert [e["order"] for e in events] == orders[-3:]
    for event in events:
        assert event["wallet_balance_after"] == big
        assert event["cex_balance_after"] == {"binance": {"USDT": 24992.5}}
        assert len(event["snapshot_id"]) == 32
    assert logger.close()
    rows = _rows(Path("logs/events"), "jsonl")
    assert sc.LEDGER_WALLET_BALANCE_AFTER in rows[0]["attributes"]
    assert all(sc.LEDGER_WALLET_BALANCE_AFTER not in r["attributes"] for r in rows[1:])
    assert len({r["attributes"][sc.LEDGER_SNAPSHOT_ID] for r in rows}) == 1


def test_errors_name_the_seed_arguments_and_record_nothing() -> None:
    logger = EventLogger()
    cases = [
        (lambda: logger.log_gas_fee(timestamp, float("nan"), 1, "X", 1, 1), "gas_cost_eth"),
        (lambda: logger.log_gas_fee(timestamp, -0.1, 1, "X", 1, 1), "gas_cost_eth"),
        (lambda: logger.log_stake(timestamp, "ETHERFI", -10, 9.6, 1.04), "eth_in"),
        (lambda: logger.log_stake(timestamp, "ROCKETPOOL", 10, 9.6, 1.04), "output_token"),
        (
            lambda: logger.log_perp_trade(timestamp, "X", "ETH-PERP", "SHORT", 0, 1, 1, 1),
            "size_eth",
        ),
        (lambda: logger.log_event(1.5, "X", "Y"), "timestamp"),
        (
            lambda: logger.log_event(
                timestamp, "X", "Y", position_snapshot={"wallet": {"ETH": float("inf")}}
            ),
            "position_snapshot.wallet.ETH",
        ),
        (lambda: logger.log_event(timestamp, "X", "Y", parent_event=0), "parent_event"),
        (lambda: logger.log_event(timestamp, "X", "Y", related_events=[0]), "related_events"),
        (
            lambda: logger.log_event(timestamp, "X", "Y", trigger_timestamp="soon"),
            "trigger_timestamp",
        ),
        (
            lambda: logger.log_atomic_transaction(
                timestamp, "X", [{"event_type": "FLASH_BORROW", "amount": 1, "timestamp": "x"}], {}
            ),
            "detail_events[0].timestamp",
        ),
    ]
    for call, field in cases:
        with pytest.raises(tt.InvalidRecordError) as raised:
            call()
        assert raised.value.field == field, raised.value
    assert logger.events == [] and logger.global_order == 0
    assert logger.log_stake(timestamp, "ROCKETPOOL", 10, 9.6, 1.04, output_token="rETH") == 1
    logger.close()


def test_get_events_filters_by_timestamp() -> None:
    logger = EventLogger()
    later = timestamp + pd.Timedelta(hours=1)
    logger.log_event(timestamp, "PRICE_UPDATE", "CHAINLINK", "ETH", 3000)
    logger.log_event(later, "PRICE_UPDATE", "CHAINLINK", "ETH", 3001)
    logger.log_event("2024-05-12T15:00:00Z", "PRICE_UPDATE", "CHAINLINK", "ETH", 3002)
    assert [e["amount"] for e in logger.get_events(later)] == [3001, 3002]
    assert [e["amount"] for e in logger.get_events(timestamp.to_pydatetime())] == [3000]
    assert len(logger.get_events()) == 3
    logger.close()


def test_a_shared_recorder_is_used_and_left_open(tmp_path: Path) -> None:
    memory = MemoryExporter()
    recorder = tt.Recorder(exporters=(memory,), directory=tmp_path, mode="backtest")
    logger = EventLogger(recorder=recorder)
    first = recorder.record_fill(symbol="ETH-USDT", side="BUY", price=1, quantity=1)
    order = logger.log_gas_fee(timestamp, 0.001, 3.0, "STAKE", 21_000, 10)
    assert order == first + 1 and logger.global_order == order
    assert logger.close()
    assert recorder.record_event("PRICE_UPDATE") == order + 1  # still open
    assert [r.seq for r in sorted(memory.records, key=lambda r: r.seq)][:2] == [first, order]
    with pytest.raises(ValueError, match="either recorder= or"):
        EventLogger(recorder=recorder, directory=tmp_path)
    recorder.shutdown()


def test_deterministic_backtest_files_are_identical(tmp_path: Path) -> None:
    def run(directory: Path) -> dict[str, bytes]:
        clock = tt.SimulatedClock("2024-05-12T00:00:00Z")
        with EventLogger(
            directory=directory, clock=clock, run_id="seed-bt", deterministic=True
        ) as logger:
            for hour in range(300):
                clock.advance(3_600 * 10**9)
                ts = pd.Timestamp(clock.now_ns(), tz="UTC")
                logger.log_gas_fee(
                    ts,
                    0.001,
                    3.0 + hour,
                    "STAKE",
                    21_000,
                    10,
                    {"wallet": {"ETH": 50 - hour / 1000}},
                )
                logger.log_funding_payment(ts, "binance", 0.0001, 7500, (hour % 5) - 2)
        return {
            str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*.*"))
            if "_runs." not in p.name
        }

    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    assert len(first) == 2 * 13 and first == second  # 13 UTC days x (csv, jsonl)
