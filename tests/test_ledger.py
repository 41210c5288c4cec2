"""tradetrace.ledger: typed helpers, their refusals, bundles, lifecycle, snapshots, determinism.

Files are read back with the ``csv`` module, ``orjson`` and (when the DuckDB exporter is
registered) DuckDB itself, after the Recorder is shut down.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import math
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

import tradetrace as tt
from recording import flushed
from tradetrace import ledger
from tradetrace import semconv as sc
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.exporters.registry import FACTORIES
from tradetrace.exporters.rows import record_from_json

D = Decimal
T0 = "2024-05-12T00:00:00Z"
T0_NS = 1_715_472_000 * 10**9
HAS_DUCKDB_EXPORTER = "duckdb" in FACTORIES


def _backtest_recorder(directory: Path, exporters: tuple[Any, ...], **options: Any) -> tt.Recorder:
    return tt.Recorder(
        service_name="ledger",
        exporters=exporters,
        directory=directory,
        mode="backtest",
        clock=tt.SimulatedClock(T0),
        schedule_delay=0.01,
        **options,
    )


# --- every helper, every field, every format -------------------------------------------------

#: (helper call on a recorder, the columns it must write with their exact values)
Case = tuple[str, Callable[[tt.Recorder], int], dict[str, Any]]
CASES: list[Case] = [
    (
        "gas_fee",
        lambda r: ledger.gas_fee(
            gas_cost_eth=D("0.003500000000000001"),
            gas_cost_usd="10.50",
            operation_type="STAKE",
            gas_units=150_000,
            gas_price_gwei="23.300000001",
            purpose="gas for the stake",
            transaction_type="GAS",
            iteration=3,
            tx_hash="0xabc",
            chain="1",
            block_number=19_000_000,
            event_id="ev-1",
            recorder=r,
        ),
        {
            "event_type": "GAS_FEE_PAID",
            "venue": "ETHEREUM",
            "token": "ETH",
            "amount": D("0.003500000000000001"),
            "gas_cost_eth": D("0.003500000000000001"),
            "gas_cost_usd": D("10.50"),
            "fee_type": "STAKE",
            "gas_units": 150_000,
            "gas_price_gwei": D("23.300000001"),
            "purpose": "gas for the stake",
            "transaction_type": "GAS",
            "iteration": 3,
            "tx_hash": "0xabc",
            "chain": "1",
            "block_number": 19_000_000,
            "event_id": "ev-1",
        },
    ),
    (
        "stake",
        lambda r: ledger.stake(
            venue="etherfi",
            eth_in="10",
            lst_out="9.612345678901234567",
            oracle_price="1.0403",
            execution_cost_usd="0.25",
            execution_cost_bps="2.5",
            gas_units=210_000,
            gas_cost_eth="0.0021",
            gas_cost_usd="6.30",
            gas_price_gwei="10",
            recorder=r,
        ),
        {
            "event_type": "STAKE_DEPOSIT",
            "venue": "ETHERFI",
            "token": "ETH",
            "amount": D("10"),
            "input_token": "ETH",
            "output_token": "weETH",
            "amount_out": D("9.612345678901234567"),
            "oracle_price": D("1.0403"),
            "execution_cost_usd": D("0.25"),
            "execution_cost_bps": D("2.5"),
            "gas_units": 210_000,
            "gas_cost_eth": D("0.0021"),
            "gas_cost_usd": D("6.30"),
            "gas_price_gwei": D("10"),
        },
    ),
    (
        "unstake",
        lambda r: ledger.unstake(
            venue="LIDO", lst_in="5", eth_out="5.9", oracle_price="1.18", recorder=r
        ),
        {
            "event_type": "STAKE_WITHDRAWAL",
            "venue": "LIDO",
            "token": "wstETH",
            "amount": D("5"),
            "input_token": "wstETH",
            "output_token": "ETH",
            "amount_out": D("5.9"),
            "oracle_price": D("1.18"),
        },
    ),
    (
        "supply_collateral",
        lambda r: ledger.supply_collateral(
            token="ETH",
            amount_supplied="10",
            atoken_received="9.8",
            liquidity_index="1.02",
            recorder=r,
        ),
        {
            "event_type": "COLLATERAL_SUPPLIED",
            "venue": "AAVE",
            "token": "ETH",
            "amount": D("10"),
            "atoken_received": D("9.8"),
            "liquidity_index": D("1.02"),
            "conversion_note": "10 ETH → 9.8 aETH (index=1.02)",
        },
    ),
    (
        "withdraw_collateral",
        lambda r: ledger.withdraw_collateral(
            token="weETH",
            amount_withdrawn="4.9",
            atoken_burned="4.8",
            liquidity_index="1.0208",
            atoken="aWeETH",
            recorder=r,
        ),
        {
            "event_type": "COLLATERAL_WITHDRAWN",
            "venue": "AAVE",
            "token": "aWeETH",
            "amount": D("4.8"),
            "input_token": "aWeETH",
            "output_token": "weETH",
            "amount_out": D("4.9"),
            "liquidity_index": D("1.0208"),
            "conversion_note": "4.8 aWeETH → 4.9 weETH (index=1.0208)",
        },
    ),
    (
        "borrow",
        lambda r: ledger.borrow(token="WETH", amount="88.7", gas_cost_eth="0.001", recorder=r),
        {
            "event_type": "LOAN_CREATED",
            "venue": "AAVE",
            "token": "WETH",
            "amount": D("88.7"),
            "gas_cost_eth": D("0.001"),
        },
    ),
    (
        "repay",
        lambda r: ledger.repay(
            token="WETH", amount="88.70", venue="aave", related=[1, 6], recorder=r
        ),
        {"event_type": "LOAN_REPAID", "venue": "AAVE", "token": "WETH", "amount": D("88.70")},
    ),
    (
        "venue_transfer",
        lambda r: ledger.venue_transfer(
            from_venue="wallet", to_venue="binance", token="USDT", amount="25000.00", recorder=r
        ),
        {
            "event_type": "VENUE_TRANSFER",
            "venue": "WALLET",
            "token": "USDT",
            "amount": D("25000.00"),
            "from_venue": "WALLET",
            "to_venue": "BINANCE",
        },
    ),
    (
        "spot_trade",
        lambda r: ledger.spot_trade(
            venue="binance",
            symbol="ETH/USDT",
            side="buy",
            size="1.5",
            price="3000.10",
            fee="0.0015",
            fee_asset="ETH",
            notional_usd="4500.15",
            recorder=r,
        ),
        {
            "event_type": "SPOT_TRADE",
            "venue": "BINANCE",
            "token": "ETH",
            "amount": D("1.5"),
            "symbol": "ETH/USDT",
            "side": "BUY",
            "size": D("1.5"),
            "price": D("3000.10"),
            "fee": D("0.0015"),
            "fee_asset": "ETH",
            "notional_usd": D("4500.15"),
        },
    ),
    (
        "perp_trade",
        lambda r: ledger.perp_trade(
            venue="bybit",
            instrument="ETHUSDT",
            side="short",
            size="-2.50",
            entry_price="3001.5",
            notional_usd="7503.75",
            execution_cost_usd="3.75",
            recorder=r,
        ),
        {
            "event_type": "TRADE_EXECUTED",
            "venue": "BYBIT",
            "token": "ETH",
            "amount": D("2.50"),
            "instrument": "ETHUSDT",
            "side": "SHORT",
            "entry_price": D("3001.5"),
            "notional_usd": D("7503.75"),
            "execution_cost_usd": D("3.75"),
        },
    ),
    (
        "funding_payment",
        lambda r: ledger.funding_payment(
            venue="binance", funding_rate="0.0001", notional_usd="7500", pnl_usd="-0.75", recorder=r
        ),
        {
            "event_type": "FUNDING_PAYMENT",
            "venue": "BINANCE",
            "token": "USDT",
            "amount": D("0.75"),
            "funding_rate": D("0.0001"),
            "notional_usd": D("7500"),
            "pnl_usd": D("-0.75"),
            "pnl_type": "PAID",
        },
    ),
    (
        "flash_borrow",
        lambda r: ledger.flash_borrow(venue="balancer", token="WETH", amount="88.7", recorder=r),
        {"event_type": "FLASH_BORROW", "venue": "BALANCER", "token": "WETH", "amount": D("88.7")},
    ),
    (
        "flash_repay",
        lambda r: ledger.flash_repay(
            venue="balancer", token="WETH", amount="88.7", fee="0.0443", recorder=r
        ),
        {
            "event_type": "FLASH_REPAID",
            "venue": "BALANCER",
            "token": "WETH",
            "amount": D("88.7"),
            "fee": D("0.0443"),
            "fee_asset": "WETH",
        },
    ),
    (
        "reconciliation",
        lambda r: ledger.reconciliation(
            venue="binance", token="USDT", expected="25000.00", actual="24999.99", recorder=r
        ),
        {
            "event_type": "HOURLY_RECONCILIATION",
            "venue": "BINANCE",
            "token": "USDT",
            "amount": D("24999.99"),
            "expected": D("25000.00"),
            "difference": D("-0.01"),
        },
    ),
    (
        "price_update",
        lambda r: ledger.price_update(
            token="ETH", price="3000.25", venue="chainlink", symbol="ETH/USD", recorder=r
        ),
        {
            "event_type": "PRICE_UPDATE",
            "venue": "CHAINLINK",
            "token": "ETH",
            "amount": D("3000.25"),
            "symbol": "ETH/USD",
        },
    ),
    (
        "risk_alert",
        lambda r: ledger.risk_alert(
            alert_type="LTV_HIGH",
            message="LTV 0.91 > 0.90",
            limit="0.90",
            observed="0.91",
            venue="aave",
            recorder=r,
        ),
        {
            "event_type": "RISK_ALERT",
            "venue": "AAVE",
            "check_name": "LTV_HIGH",
            "passed": False,
            "risk_reason": "LTV 0.91 > 0.90",
            "limit_value": D("0.90"),
            "observed_value": D("0.91"),
        },
    ),
    (
        "rebalance",
        lambda r: ledger.rebalance(
            reason="delta drift",
            token="ETH",
            amount="-1.25",
            result={"target_delta": D("0.00"), "legs": 2},
            attributes={"leg": "A", "tx_hash": "0xdef"},
            recorder=r,
        ),
        {
            "event_type": "REBALANCE_EXECUTED",
            "token": "ETH",
            "amount": D("-1.25"),
            "reason": "delta drift",
            "result": {"target_delta": D("0.00"), "legs": 2},
            "leg": "A",
            "tx_hash": "0xdef",
        },
    ),
    (
        "event",
        lambda r: ledger.event(
            "ATOMIC_LEVERAGE_EXECUTION",
            venue="INSTADAPP",
            token="weETH",
            amount="95.2400000000000000001",
            iteration=2,
            output_token="aWeETH",
            recorder=r,
        ),
        {
            "event_type": "ATOMIC_LEVERAGE_EXECUTION",
            "venue": "INSTADAPP",
            "token": "weETH",
            "amount": D("95.2400000000000000001"),
            "iteration": 2,
            "output_token": "aWeETH",
        },
    ),
]


def _text(value: Any) -> str:
    """How a value is written as CSV text (Decimals digit for digit)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _plain(value: Any) -> Any:
    """A nested value as JSON data (Decimals as their exact text)."""
    return json.loads(json.dumps(value, default=lambda d: format(d, "f")))


def _record_all(recorder: tt.Recorder) -> dict[int, dict[str, Any]]:
    """Every helper once, then one atomic transaction; returns {seq: expected columns}."""
    expected: dict[int, dict[str, Any]] = {}
    for _, call, columns in CASES:
        expected[call(recorder)] = columns
    wrapper, *details = ledger.atomic_transaction(
        "ATOMIC_LEVERAGE_ENTRY",
        [
            {"event_type": "FLASH_BORROW", "venue": "BALANCER", "token": "WETH", "amount": "88.7"},
            {
                "event_type": "STAKE_DEPOSIT",
                "venue": "ETHERFI",
                "token": "ETH",
                "amount": "100",
                "output_token": "weETH",
                "amount_out": "96.12",
            },
        ],
        net_result={"collateral": D("95.24"), "debt": D("88.7")},
        recorder=recorder,
    )
    expected[wrapper] = {
        "event_type": "ATOMIC_TRANSACTION",
        "venue": "INSTADAPP",
        "token": "COMPOSITE",
        "amount": 1,
        "bundle_name": "ATOMIC_LEVERAGE_ENTRY",
        "detail_count": 2,
        "net_result": {"collateral": D("95.24"), "debt": D("88.7")},
    }
    expected[details[0]] = {
        "event_type": "FLASH_BORROW",
        "venue": "BALANCER",
        "token": "WETH",
        "amount": D("88.7"),
        "parent_seq": wrapper,
    }
    expected[details[1]] = {
        "event_type": "STAKE_DEPOSIT",
        "venue": "ETHERFI",
        "token": "ETH",
        "amount": D("100"),
        "output_token": "weETH",
        "amount_out": D("96.12"),
        "parent_seq": wrapper,
    }
    return expected


def _check_csv(directory: Path, expected: dict[int, dict[str, Any]]) -> None:
    (path,) = (directory / "csv").glob("ledger_events_*.csv")
    with open(path, newline="", encoding="utf-8") as file:
        rows = {int(row["seq"]): row for row in csv.DictReader(file)}
    assert set(rows) == set(expected)
    for seq, columns in expected.items():
        row = rows[seq]
        extra = json.loads(row["attributes"]) if row["attributes"] else {}
        assert row["status"] == "completed" and row["kind"] == "event"
        for column, value in columns.items():
            if column == "parent_seq":
                assert row["parent_seq"] == str(value)
            elif column in row:
                cell = row[column]
                if isinstance(value, dict):
                    assert json.loads(cell) == _plain(value), (seq, column)
                else:
                    assert cell == _text(value), (seq, column, cell)
            else:  # no column of its own in the events file: in the attributes cell
                got = extra[sc.ATTRIBUTE_OF.get(column, column)]
                if isinstance(value, dict):
                    assert got == _plain(value), (seq, column)
                else:
                    assert _text(got) == _text(value), (seq, column, got)


def _check_jsonl(directory: Path, expected: dict[int, dict[str, Any]]) -> None:
    (path,) = (directory / "json").glob("ledger_events_*.jsonl")
    records = {}
    for line in path.read_bytes().splitlines():
        record = record_from_json(orjson.loads(line))
        records[record.seq] = record
    assert set(records) == set(expected)
    for seq, columns in expected.items():
        record = records[seq]
        assert record.status == "completed" and record.name == columns["event_type"]
        for column, value in columns.items():
            if column == "parent_seq":
                assert record.parent_seq == value
                continue
            key = sc.ATTRIBUTE_OF.get(column, column)
            got = record.attributes[key]
            if isinstance(value, dict):
                assert _plain(got) == _plain(value), (seq, column)
            elif isinstance(value, Decimal) and key in sc.ATTRIBUTES:
                assert type(got) is Decimal and str(got) == str(value), (seq, column, got)
            elif isinstance(value, Decimal):  # custom attribute: exact text
                assert got == format(value, "f"), (seq, column, got)
            else:
                assert got == value and type(got) is type(value), (seq, column, got)


def test_every_helper_field_reaches_csv_and_json_lines_exactly(tmp_path: Path) -> None:
    recorder = _backtest_recorder(tmp_path, ("csv", "jsonl"))
    expected = _record_all(recorder)
    assert recorder.shutdown(10)
    _check_csv(tmp_path, expected)
    _check_jsonl(tmp_path, expected)
    related = {s for s, columns in expected.items() if columns["event_type"] == "LOAN_REPAID"}
    (path,) = (tmp_path / "json").glob("ledger_events_*.jsonl")
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [item["related_seqs"] for item in lines if item["seq"] in related] == [[1, 6]]


@pytest.mark.skipif(
    not HAS_DUCKDB_EXPORTER,
    reason="no 'duckdb' exporter in tradetrace.exporters.registry.FACTORIES yet (being added)",
)
def test_every_helper_field_reaches_duckdb_exactly(tmp_path: Path) -> None:
    import duckdb

    recorder = _backtest_recorder(tmp_path, ("csv", "jsonl", "duckdb"))
    expected = _record_all(recorder)
    assert recorder.shutdown(10)
    _check_csv(tmp_path, expected)
    _check_jsonl(tmp_path, expected)
    (database,) = tmp_path.rglob("*.duckdb")
    with duckdb.connect(str(database), read_only=True) as connection:
        cursor = connection.execute("SELECT * FROM records WHERE kind = 'event' ORDER BY seq")
        names = [d[0] for d in cursor.description]
        rows = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    assert set(rows) == set(expected)
    for seq, columns in expected.items():
        row = rows[seq]
        extra = json.loads(row["attributes"]) if row["attributes"] else {}
        exact = json.loads(row["exact_text"]) if row["exact_text"] else {}
        for column, value in columns.items():
            got = row[column] if column in row else extra[sc.ATTRIBUTE_OF.get(column, column)]
            if got is None and column in exact:
                got = exact[column]
            if isinstance(value, dict):
                assert _plain(json.loads(got) if isinstance(got, str) else got) == _plain(value)
            elif isinstance(value, Decimal):  # DECIMAL(38,18) pads zeros: compare the number
                assert Decimal(str(got)) == value, (seq, column, got)
            else:
                assert got == value, (seq, column, got)


# --- validation ------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
BAD_CALLS: list[tuple[Callable[..., Any], dict[str, Any], str, str]] = [
    (ledger.gas_fee, {"gas_cost_eth": NAN}, "gas_cost_eth", "finite"),
    (ledger.gas_fee, {"gas_cost_eth": "-0.001"}, "gas_cost_eth", "must not be negative"),
    (ledger.gas_fee, {"gas_cost_eth": 1, "gas_cost_usd": -1}, "gas_cost_usd", "negative"),
    (ledger.gas_fee, {"gas_cost_eth": 1, "gas_units": 1.5}, "gas_units", "whole number"),
    (ledger.gas_fee, {"gas_cost_eth": 1, "gas_units": -2}, "gas_units", "negative"),
    (ledger.gas_fee, {"gas_cost_eth": 1, "gas_price_gwei": INF}, "gas_price_gwei", "finite"),
    (ledger.gas_fee, {"gas_cost_eth": "abc"}, "gas_cost_eth", "not a decimal number"),
    (ledger.gas_fee, {"gas_cost_eth": 1, "time": 1.5}, "time", "cannot read a timestamp"),
    (ledger.gas_fee, {"gas_cost_eth": 1, "status": "lost"}, "status", "one of"),
    (ledger.gas_fee, {"gas_cost_eth": 1, "parent": 0}, "parent", "positive int"),
    (ledger.gas_fee, {"gas_cost_eth": 1, "related": 3}, "related", "list of seqs"),
    (
        ledger.gas_fee,
        {"gas_cost_eth": 1, "snapshot": {"wallet": {"ETH": NAN}}},
        "snapshot.wallet.ETH",
        "finite",
    ),
    (
        ledger.gas_fee,
        {"gas_cost_eth": 1, "attributes": {"venue": "X"}},
        "attributes.venue",
        "venue= argument",
    ),
    (
        ledger.gas_fee,
        {"gas_cost_eth": 1, "attributes": {"gas_cost_eth": 2}},
        "attributes.gas_cost_eth",
        "already set",
    ),
    (
        ledger.gas_fee,
        {"gas_cost_eth": 1, "attributes": {"x": [1, INF]}},
        "attributes.x[]",
        "finite",
    ),
    (ledger.stake, {"venue": "ETHERFI", "eth_in": "-10", "lst_out": 9}, "eth_in", "greater"),
    (ledger.stake, {"venue": "ETHERFI", "eth_in": 0, "lst_out": 9}, "eth_in", "greater"),
    (
        ledger.stake,
        {"venue": "ROCKETPOOL", "eth_in": 1, "lst_out": 1},
        "output_token",
        "ETHERFI -> weETH",
    ),
    (
        ledger.stake,
        {"venue": "LIDO", "eth_in": 1, "lst_out": 1, "oracle_price": 0},
        "oracle_price",
        "greater",
    ),
    (
        ledger.supply_collateral,
        {"token": "ETH", "amount_supplied": 1, "atoken_received": 1, "liquidity_index": D("NaN")},
        "liquidity_index",
        "finite",
    ),
    (
        ledger.perp_trade,
        {"venue": "X", "instrument": "ETH-PERP", "side": "LONG", "size": -1, "entry_price": 1},
        "size",
        "negative but side is LONG",
    ),
    (
        ledger.perp_trade,
        {"venue": "X", "instrument": "ETH-PERP", "side": "UP", "size": 1, "entry_price": 1},
        "side",
        "SHORT, LONG, BUY or SELL",
    ),
    (
        ledger.perp_trade,
        {"venue": "X", "instrument": "ETH-PERP", "side": "LONG", "size": 0, "entry_price": 1},
        "size",
        "must not be zero",
    ),
    (
        ledger.perp_trade,
        {"venue": "X", "instrument": "XYZ", "side": "LONG", "size": 1, "entry_price": 1},
        "token",
        "cannot be read",
    ),
    (
        ledger.funding_payment,
        {"venue": "X", "funding_rate": INF, "notional_usd": 1, "pnl_usd": 1},
        "funding_rate",
        "finite",
    ),
    (
        ledger.spot_trade,
        {"venue": "X", "symbol": "ETH/USDT", "side": "HOLD", "size": 1, "price": 1},
        "side",
        "BUY or SELL",
    ),
    (
        ledger.venue_transfer,
        {"from_venue": "", "to_venue": "B", "token": "ETH", "amount": 1},
        "from_venue",
        "non-empty",
    ),
    (
        ledger.venue_transfer,
        {"from_venue": "A", "to_venue": "B", "token": "ETH", "amount": -1},
        "amount",
        "greater",
    ),
    (ledger.flash_repay, {"venue": "X", "token": "ETH", "amount": 1, "fee": -1}, "fee", "negative"),
    (ledger.price_update, {"token": "ETH", "price": -3000}, "amount", "greater"),
    (ledger.risk_alert, {"alert_type": "LTV", "severity": "LOUD"}, "severity", "one of"),
    (ledger.rebalance, {"result": [1]}, "result", "mapping"),
    (ledger.event, {"event_type": "STAKE_DEPOSIT", "amount": -5}, "amount", "greater"),
    (ledger.event, {"event_type": "X", "gas_cost_usd": -5}, "gas_cost_usd", "negative"),
    (ledger.event, {"event_type": ""}, "event_type", "non-empty"),
]


@pytest.mark.parametrize(("helper", "arguments", "field", "message"), BAD_CALLS)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_recorded(
    recorder: tt.Recorder,
    memory: MemoryExporter,
    helper: Callable[..., Any],
    arguments: dict[str, Any],
    field: str,
    message: str,
) -> None:
    with pytest.raises(tt.InvalidRecordError) as raised:
        helper(recorder=recorder, **arguments)
    assert raised.value.field == field, raised.value
    assert message in str(raised.value)
    assert recorder.health()["emitted"] == 0
    assert ledger.gas_fee(gas_cost_eth=0, recorder=recorder) == 1  # no seq was taken
    assert [r.seq for r in flushed(recorder, memory)] == [1]


def test_unknown_keywords_are_type_errors(recorder: tt.Recorder) -> None:
    with pytest.raises(TypeError, match=r"gas_fee\(\) got an unexpected keyword argument 'foo'"):
        ledger.gas_fee(gas_cost_eth=1, foo=1, recorder=recorder)
    with pytest.raises(TypeError):
        ledger.stake("ETHERFI", 1, 1, recorder=recorder)  # type: ignore[misc]  # keyword-only
    with pytest.raises(TypeError, match="not a tradetrace Recorder"):
        ledger.borrow(token="ETH", amount=1, recorder=object())  # type: ignore[arg-type]
    assert recorder.health()["emitted"] == 0


def test_numbers_keep_their_type_and_digits(recorder: tt.Recorder, memory: MemoryExporter) -> None:
    ledger.funding_payment(
        venue="binance",
        funding_rate=0.0001,
        notional_usd=7500,
        pnl_usd=D("12.3400"),
        recorder=recorder,
    )
    ledger.funding_payment(
        venue="binance", funding_rate="0", notional_usd="1", pnl_usd=0, recorder=recorder
    )
    received, zero = (r.attributes for r in flushed(recorder, memory))
    assert (
        received[sc.LEDGER_AMOUNT] == D("12.3400") and str(received[sc.LEDGER_AMOUNT]) == "12.3400"
    )
    assert received[sc.FUNDING_PNL_TYPE] == "RECEIVED"
    assert type(received[sc.FUNDING_RATE]) is float and received[sc.FUNDING_RATE] == 0.0001
    assert type(received[sc.POSITION_NOTIONAL_USD]) is int
    assert zero[sc.FUNDING_PNL_TYPE] == "PAID" and zero[sc.LEDGER_AMOUNT] == 0


def test_event_types_cover_the_seed_and_ccxt() -> None:
    seed = (
        "GAS_FEE_PAID STAKE_DEPOSIT STAKE_WITHDRAWAL COLLATERAL_SUPPLIED COLLATERAL_WITHDRAWN "
        "LOAN_CREATED LOAN_REPAID VENUE_TRANSFER SPOT_TRADE TRADE_EXECUTED FUNDING_PAYMENT "
        "ATOMIC_TRANSACTION FLASH_BORROW FLASH_REPAID ATOMIC_LEVERAGE_EXECUTION "
        "HOURLY_RECONCILIATION PRICE_UPDATE RISK_ALERT REBALANCE_EXECUTED"
    ).split()
    names = {member.value for member in sc.EventType}
    assert set(seed) <= names and {"BALANCE_SNAPSHOT", "POSITIONS_SNAPSHOT"} <= names
    assert len(names) == 21 and ledger.EventType is sc.EventType
    assert (
        sc.EventType.GAS_FEE_PAID == "GAS_FEE_PAID" and str(sc.EventType.RISK_ALERT) == "RISK_ALERT"
    )


def test_helpers_default_to_the_global_recorder(tmp_path: Path) -> None:
    memory = MemoryExporter()
    tt.configure(exporters=(memory,), directory=tmp_path, mode="backtest")
    try:
        seq = ledger.borrow(token="USDT", amount="100")
        assert tt.flush(5)
        assert [(r.seq, r.name, r.status) for r in memory.records] == [
            (seq, "LOAN_CREATED", "completed")
        ]
    finally:
        tt.shutdown()


# --- atomic transactions and bundles ---------------------------------------------------------

SIX_STEPS = [
    {"event_type": "FLASH_BORROW", "venue": "BALANCER", "token": "WETH", "amount": "88.7"},
    {"event_type": "STAKE_DEPOSIT", "venue": "ETHERFI", "token": "ETH", "amount": "100"},
    {"event_type": "COLLATERAL_SUPPLIED", "venue": "AAVE", "token": "weETH", "amount": "96.1"},
    {"event_type": "LOAN_CREATED", "venue": "AAVE", "token": "WETH", "amount": "88.7"},
    {"event_type": "FLASH_REPAID", "venue": "BALANCER", "token": "WETH", "amount": "88.7"},
    {
        "event_type": "GAS_FEE_PAID",
        "venue": "ETHEREUM",
        "token": "ETH",
        "amount": "0.004",
        "gas_units": 900_000,
    },
]


def test_atomic_transaction_records_wrapper_first_then_details_with_its_seq(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    before = recorder.record_decision("enter")
    seqs = ledger.atomic_transaction(
        "ATOMIC_LEVERAGE_ENTRY",
        SIX_STEPS,
        net_result={"collateral": 95.24, "debt": 88.7},
        snapshot={"wallet": {"ETH": 49.9965}},
        time="2024-05-12T14:00:00Z",
        recorder=recorder,
    )
    assert seqs == list(range(before + 1, before + 8))
    records = {r.seq: r for r in flushed(recorder, memory)}
    wrapper = records[seqs[0]]
    assert wrapper.name == "ATOMIC_TRANSACTION" and wrapper.parent_seq is None
    assert wrapper.attributes[sc.BUNDLE_DETAIL_COUNT] == 6
    assert wrapper.attributes[sc.BUNDLE_NAME] == "ATOMIC_LEVERAGE_ENTRY"
    assert wrapper.attributes[sc.LEDGER_WALLET_BALANCE_AFTER] == {"wallet": {"ETH": 49.9965}}
    for seq, step in zip(seqs[1:], SIX_STEPS, strict=True):
        assert records[seq].name == step["event_type"]
        assert records[seq].parent_seq == seqs[0]
        assert records[seq].time_ns == wrapper.time_ns == 1_715_522_400 * 10**9
        assert sc.LEDGER_WALLET_BALANCE_AFTER not in records[seq].attributes
    assert records[seqs[6]].attributes[sc.LEDGER_GAS_UNITS] == 900_000


def test_atomic_transaction_with_one_bad_detail_records_nothing(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    bad = [*SIX_STEPS[:2], {**SIX_STEPS[2], "amount": "NaN"}, *SIX_STEPS[3:]]
    with pytest.raises(tt.InvalidRecordError) as raised:
        ledger.atomic_transaction("ATOMIC_LEVERAGE_ENTRY", bad, recorder=recorder)
    assert raised.value.field == "detail_events[2].amount"
    for details, field in (
        ([{"venue": "X"}], "detail_events[0].event_type"),
        ([SIX_STEPS[0], "FLASH_BORROW"], "detail_events[1]"),
        ([{**SIX_STEPS[0], "parent": 1}], "detail_events[0].parent"),
        ([], "detail_events"),
    ):
        with pytest.raises(tt.InvalidRecordError) as raised:
            ledger.atomic_transaction("X", details, recorder=recorder)
        assert raised.value.field == field
    with pytest.raises(tt.InvalidRecordError, match=r"net_result\.debt"):
        ledger.atomic_transaction("X", SIX_STEPS, net_result={"debt": math.inf}, recorder=recorder)
    assert recorder.health()["emitted"] == 0
    assert ledger.atomic_transaction("X", SIX_STEPS, recorder=recorder)[0] == 1
    assert len(flushed(recorder, memory)) == 7


@pytest.fixture(params=["recorder.bundle", "tt.bundle"])
def bundle_target(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Callable[..., tt.Span], tt.Recorder | None, MemoryExporter]]:
    memory = MemoryExporter()
    if request.param == "tt.bundle":
        tt.configure(exporters=(memory,), directory=tmp_path, queue_size=1_000_000)
        try:
            yield tt.bundle, None, memory
        finally:
            tt.shutdown()
    else:
        rec = tt.Recorder(exporters=(memory,), directory=tmp_path, queue_size=1_000_000)
        try:
            yield rec.bundle, rec, memory
        finally:
            rec.shutdown()


def test_bundles_in_100_concurrent_tasks_keep_their_own_children(
    bundle_target: tuple[Callable[..., tt.Span], tt.Recorder | None, MemoryExporter],
) -> None:
    bundle, recorder, memory = bundle_target
    extra: dict[str, Any] = {} if recorder is None else {"recorder": recorder}

    async def task(index: int) -> tuple[int, list[int]]:
        children = []
        async with bundle("ATOMIC_LEVERAGE_ENTRY", net_result={"task": index}) as wrapper:
            await asyncio.sleep(0)
            for step in range(6):
                children.append(
                    ledger.flash_borrow(
                        venue="BALANCER", token="WETH", amount=f"{index}.{step}1", **extra
                    )
                )
                await asyncio.sleep(0.0001 * (index % 3))
        return wrapper.seq, children

    async def main() -> list[tuple[int, list[int]]]:
        return await asyncio.gather(*(task(i) for i in range(100)))

    results = asyncio.run(main())
    (recorder or tt.get_recorder()).flush(30)
    records = {r.seq: r for r in memory.records}
    assert sorted(records) == list(range(1, 701))  # 100 x (1 wrapper + 6 children), no gap
    for index, (wrapper_seq, children) in enumerate(results):
        wrapper = records[wrapper_seq]
        assert wrapper.name == "ATOMIC_TRANSACTION" and wrapper.status == "completed"
        assert wrapper.attributes[sc.BUNDLE_NET_RESULT] == {"task": index}
        assert wrapper.attributes[sc.BUNDLE_DETAIL_COUNT] == 6
        assert wrapper_seq < min(children)
        for step, child in enumerate(children):
            assert records[child].parent_seq == wrapper_seq
            assert records[child].attributes[sc.LEDGER_AMOUNT] == D(f"{index}.{step}1")
            assert records[child].trace_id == wrapper.trace_id


def test_nested_bundles(recorder: tt.Recorder, memory: MemoryExporter) -> None:
    with recorder.bundle("ATOMIC_REBALANCE") as outer:
        first = ledger.flash_borrow(venue="BALANCER", token="WETH", amount=1, recorder=recorder)
        with recorder.bundle("ATOMIC_DELEVERAGE") as inner:
            deep = ledger.repay(token="WETH", amount=1, recorder=recorder)
            deeper = ledger.withdraw_collateral(
                token="weETH", amount_withdrawn=1, atoken_burned=1, recorder=recorder
            )
        last = ledger.flash_repay(venue="BALANCER", token="WETH", amount=1, recorder=recorder)
    records = {r.seq: r for r in flushed(recorder, memory)}
    assert outer.seq < first < inner.seq < deep < deeper < last
    assert records[inner.seq].parent_seq == outer.seq
    assert records[first].parent_seq == records[last].parent_seq == outer.seq
    assert records[deep].parent_seq == records[deeper].parent_seq == inner.seq
    assert records[outer.seq].attributes[sc.BUNDLE_DETAIL_COUNT] == 3  # first, inner, last
    assert records[inner.seq].attributes[sc.BUNDLE_DETAIL_COUNT] == 2
    assert records[outer.seq].parent_seq is None


def test_bundle_that_raises_is_failed_and_its_children_stay(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    class RepayReverted(Exception):
        pass

    error = RepayReverted("flash loan not repaid")
    with pytest.raises(RepayReverted) as raised, recorder.bundle("ATOMIC_LEVERAGE_ENTRY") as b:
        child = ledger.flash_borrow(
            venue="BALANCER", token="WETH", amount="88.7", recorder=recorder
        )
        raise error
    assert raised.value is error
    records = {r.seq: r for r in flushed(recorder, memory)}
    assert records[b.seq].status == "failed" and records[b.seq].severity == "ERROR"
    assert records[b.seq].attributes[sc.EXCEPTION_TYPE] == "RepayReverted"
    assert records[b.seq].attributes[sc.EXCEPTION_MESSAGE] == "flash loan not repaid"
    assert records[child].parent_seq == b.seq and records[child].name == "FLASH_BORROW"
    assert recorder.event_status(b.seq) == "failed"
    with pytest.raises(tt.LifecycleError):
        recorder.update_event(b.seq, "completed")


# --- lifecycle -------------------------------------------------------------------------------


def test_live_lifecycle_forbidden_moves_raise_and_views_show_latest_status(
    tmp_path: Path,
) -> None:
    memory = MemoryExporter()
    rec = tt.Recorder(exporters=(memory,), directory=tmp_path, mode="live")
    staked = ledger.stake(venue="ETHERFI", eth_in="10", lst_out="9.6", recorder=rec)
    borrowed = ledger.borrow(token="WETH", amount="5", recorder=rec)
    assert rec.event_status(staked) == rec.event_status(borrowed) == "pending"
    rec.update_event(staked, "submitted", tx_hash="0xabc")
    rec.update_event(staked, "confirmed", confirmation_blocks=12)
    with pytest.raises(tt.LifecycleError, match="'confirmed'; it cannot become 'pending'"):
        rec.update_event(staked, "pending")
    rec.update_event(borrowed, "failed", reason="reverted")
    with pytest.raises(tt.LifecycleError, match="'failed'; it cannot become 'submitted'"):
        rec.update_event(borrowed, "submitted")
    statuses = {e["seq"]: e["status"] for e in rec.get_events()}
    assert statuses == {staked: "confirmed", borrowed: "failed"}
    rec.update_event(staked, "completed")
    assert rec.event_status(staked) == "completed"
    records = flushed(rec, memory)
    assert [r.status for r in records] == [
        "pending",
        "pending",
        "submitted",
        "confirmed",
        "failed",
        "completed",
    ]
    rec.shutdown()


def test_backtest_events_are_completed_and_final(tmp_path: Path) -> None:
    rec = _backtest_recorder(tmp_path, (MemoryExporter(),))
    seq = ledger.gas_fee(gas_cost_eth="0.001", recorder=rec)
    wrapper, detail = ledger.atomic_transaction("X", SIX_STEPS[:1], recorder=rec)
    assert {e["seq"]: e["status"] for e in rec.get_events()} == {
        seq: "completed",
        wrapper: "completed",
        detail: "completed",
    }
    with pytest.raises(tt.LifecycleError, match="'completed'; it cannot become 'confirmed'"):
        rec.update_event(seq, "confirmed")
    rec.shutdown()


# --- event buffer and snapshots --------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 100_000, -1, "10", 2.5])
def test_event_buffer_size_is_validated(tmp_path: Path, size: Any) -> None:
    with pytest.raises(ValueError, match=r"event_buffer_size=.*must be an int > 0 and < 100000"):
        tt.Recorder(exporters=(), directory=tmp_path, event_buffer_size=size)


def test_event_buffer_keeps_only_the_last_n(tmp_path: Path) -> None:
    rec = _backtest_recorder(tmp_path, (), event_buffer_size=5)
    seqs = [ledger.price_update(token="ETH", price=3000 + i, recorder=rec) for i in range(12)]
    events = rec.get_events()
    assert [e["seq"] for e in events] == seqs[-5:]
    assert [e["amount"] for e in events] == [3007, 3008, 3009, 3010, 3011]
    assert rec.get_events(event_type="RISK_ALERT") == []
    rec.shutdown()


def _big_snapshot() -> dict[str, Any]:
    return {
        "wallet": {f"COIN{i}": D(f"{i}.123456789") for i in range(100)},
        "cex_accounts": {"binance": {"USDT": D("24992.50")}},
        "perp_positions": {"binance": {"ETHUSDT": -10}},
    }


def test_large_repeated_snapshot_is_stored_once_and_small_ones_inline(tmp_path: Path) -> None:
    rec = _backtest_recorder(tmp_path, ("jsonl",))
    big = [ledger.gas_fee(gas_cost_eth=1, snapshot=_big_snapshot(), recorder=rec) for _ in range(3)]
    small = [
        ledger.gas_fee(gas_cost_eth=1, snapshot={"wallet": {"ETH": 1}}, recorder=rec)
        for _ in range(2)
    ]
    assert rec.shutdown(10)
    (path,) = (tmp_path / "json").glob("ledger_events_*.jsonl")
    lines = {item["seq"]: item for item in map(orjson.loads, path.read_bytes().splitlines())}
    first, *repeats = (lines[s]["attributes"] for s in big)
    digest = first[sc.LEDGER_SNAPSHOT_ID]
    assert len(digest) == 32
    assert first[sc.LEDGER_WALLET_BALANCE_AFTER]["wallet"]["COIN7"] == "7.123456789"
    assert first[sc.LEDGER_CEX_BALANCE_AFTER] == {"binance": {"USDT": "24992.50"}}
    for repeat in repeats:  # only the id: the content is in the first record
        assert repeat[sc.LEDGER_SNAPSHOT_ID] == digest
        assert sc.LEDGER_WALLET_BALANCE_AFTER not in repeat
        assert sc.LEDGER_CEX_BALANCE_AFTER not in repeat
    assert len(orjson.dumps(repeats[0])) * 10 < len(orjson.dumps(first))
    for seq in small:
        attributes = lines[seq]["attributes"]
        assert attributes[sc.LEDGER_WALLET_BALANCE_AFTER] == {"wallet": {"ETH": 1}}
        assert sc.LEDGER_SNAPSHOT_ID not in attributes


def test_capture_snapshots_false_drops_them(tmp_path: Path) -> None:
    memory = MemoryExporter()
    rec = _backtest_recorder(tmp_path, (memory,), capture_snapshots=False)
    ledger.gas_fee(gas_cost_eth=1, snapshot=_big_snapshot(), recorder=rec)
    ledger.atomic_transaction("X", SIX_STEPS, snapshot={"wallet": {"ETH": 1}}, recorder=rec)
    records = flushed(rec, memory)
    assert len(records) == 8
    for record in records:
        assert not any(
            key.endswith("_after") or key == sc.LEDGER_SNAPSHOT_ID for key in record.attributes
        )
    rec.shutdown()


# --- determinism -----------------------------------------------------------------------------


def _ledger_backtest(directory: Path) -> dict[str, str]:
    clock = tt.SimulatedClock(T0)
    rec = tt.Recorder(
        service_name="bt",
        exporters=("csv", "jsonl"),
        directory=directory,
        mode="backtest",
        clock=clock,
        run_id="ledger-backtest-1",
        deterministic=True,
    )
    snapshot = _big_snapshot()
    count = 0
    hour = 0
    while count < 10_000:
        clock.advance(3_600 * 10**9)
        hour += 1
        ledger.price_update(token="ETH", price=f"{3000 + hour % 97}.25", recorder=rec)
        ledger.funding_payment(
            venue="binance",
            funding_rate="0.0001",
            notional_usd="7500",
            pnl_usd=f"{(hour % 7) - 3}.5",
            recorder=rec,
        )
        ledger.gas_fee(
            gas_cost_eth="0.0035",
            gas_cost_usd=10.5 + hour,
            operation_type="STAKE",
            gas_units=150_000,
            gas_price_gwei="23.3",
            snapshot=snapshot,
            recorder=rec,
        )
        with rec.bundle("ATOMIC_LEVERAGE_ENTRY", net_result={"hour": hour}):
            ledger.flash_borrow(venue="BALANCER", token="WETH", amount="88.7", recorder=rec)
            ledger.stake(venue="ETHERFI", eth_in="100", lst_out="96.12", recorder=rec)
        ledger.atomic_transaction("ATOMIC_DELEVERAGE", SIX_STEPS, recorder=rec)
        ledger.risk_alert(alert_type="LTV_HIGH", observed=0.9 + hour / 10_000, recorder=rec)
        count += 3 + 3 + 7 + 1
    assert rec.shutdown(30)
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*.*"))
        if "_runs." not in p.name  # the runs file names host and pid on purpose
    }


def test_deterministic_10000_event_backtest_writes_identical_bytes(tmp_path: Path) -> None:
    first, second = _ledger_backtest(tmp_path / "a"), _ledger_backtest(tmp_path / "b")
    assert len(first) >= 2 * 30  # one events file per UTC day, CSV and JSON Lines
    assert all(name.startswith(("csv/", "json/")) for name in first)
    assert first == second
    lines = sum(
        1 for p in (tmp_path / "a" / "json").glob("bt_events_*.jsonl") for _ in p.open("rb")
    )
    assert lines >= 10_000
