"""auto_instrument on the real ccxt package (sync and async binance), offline.

Every test talks to the fake Binance of ``examples/fake_exchange.py`` on 127.0.0.1 (see
conftest.py): ccxt's own HTTP, HMAC signing and error mapping run for real.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ccxt
import ccxt.async_support
import duckdb
import pytest
import wrapt
from ccxt.async_support.base.exchange import Exchange as AsyncExchange
from ccxt.base.exchange import Exchange as SyncExchange

import tradetrace as tt
from tradetrace import semconv as sc
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.exporters.registry import FACTORIES
from tradetrace.instrumentation.otel_ccxt import CcxtInstrumentor

Factory = Callable[..., Any]
REPO = Path(__file__).resolve().parents[2]
SYMBOL = "BTC/USDT"
INSUFFICIENT = "binance Account has insufficient balance for requested action."
ENTRY_POINT = "ccxt = tradetrace.instrumentation.otel_ccxt:CcxtInstrumentor"


def flushed(rec: tt.Recorder, memory: MemoryExporter) -> list[tt.Record]:
    assert rec.flush(10), rec.health()
    return sorted(memory.records, key=lambda r: r.seq)


def named(records: list[tt.Record], kind: str, name: str | None = None) -> list[tt.Record]:
    return [r for r in records if r.kind == kind and (name is None or r.name == name)]


def only(records: list[tt.Record]) -> tt.Record:
    assert len(records) == 1, records
    return records[0]


def posts(server: Any, path: str = "/api/v3/order") -> int:
    return sum(1 for s in server.seen if s.method == "POST" and s.path == path)


# --- orders --------------------------------------------------------------------------------------


def test_create_limit_order_is_one_order_record_with_unified_attributes(
    binance: Any, fake_binance: Any, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    tt.auto_instrument(binance, recorder=recorder)
    order = binance.create_limit_order(SYMBOL, "buy", 0.01, 49_000, {"clientOrderId": "my-1"})

    records = flushed(recorder, memory)
    assert posts(fake_binance) == 1
    assert [r.kind for r in records] == ["order"]  # the inner create_order is not a 2nd span
    record = records[0]
    assert (record.name, record.status, record.severity) == ("create_limit_order", "ok", "INFO")
    a = record.attributes
    assert a[sc.ORDER_ID] == order["id"] == "1001"
    assert a[sc.ORDER_CLIENT_ID] == "my-1"
    assert a[sc.SYMBOL] == SYMBOL
    assert a[sc.ORDER_SIDE] == "BUY"
    assert a[sc.ORDER_TYPE] == "LIMIT"
    assert a[sc.ORDER_PRICE] == 49_000
    assert a[sc.ORDER_QUANTITY] == 0.01
    assert a[sc.ORDER_STATUS] == "open"
    assert (a[sc.ORDER_FILLED], a[sc.ORDER_REMAINING]) == (0, 0.01)
    assert a[sc.ORDER_TIME_IN_FORCE] == "GTC"
    assert a[sc.LEDGER_VENUE] == "binance"
    assert a[sc.CALL_ARGUMENTS]["params"] == {"clientOrderId": "my-1"}


def test_camel_case_alias_market_order_carries_fill_summary_and_fee(
    binance: Any, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    tt.auto_instrument(binance, recorder=recorder)
    binance.createOrder(SYMBOL, "market", "sell", 0.02)

    a = only(named(flushed(recorder, memory), "order", "create_order")).attributes
    assert (a[sc.ORDER_SIDE], a[sc.ORDER_TYPE], a[sc.ORDER_STATUS]) == ("SELL", "MARKET", "closed")
    assert (a[sc.ORDER_FILLED], a[sc.ORDER_REMAINING]) == (0.02, 0)
    assert a[sc.ORDER_AVERAGE_PRICE] == 50_000
    assert (a[sc.FEE_AMOUNT], a[sc.FEE_CURRENCY]) == (1, "USDT")  # 0.1% of 1,000 USDT


def test_fetch_edit_cancel_and_cancel_all_are_order_records(
    binance: Any, fake_binance: Any, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    tt.auto_instrument(binance, recorder=recorder)
    filled = binance.create_limit_order(SYMBOL, "buy", 0.01, 49_000)
    fake_binance.fill(filled["id"])
    binance.fetch_order(filled["id"], SYMBOL)
    resting = binance.create_limit_order(SYMBOL, "buy", 0.01, 48_000)
    binance.cancel_order(resting["id"], SYMBOL)
    moved = binance.create_limit_order(SYMBOL, "sell", 0.01, 60_000)
    edited = binance.edit_order(moved["id"], SYMBOL, "limit", "sell", 0.02, 61_000)
    binance.cancel_all_orders(SYMBOL)

    records = flushed(recorder, memory)
    fetched = only(named(records, "order", "fetch_order")).attributes
    assert fetched[sc.ORDER_ID] == filled["id"]
    assert fetched[sc.ORDER_STATUS] == "closed"
    assert (fetched[sc.ORDER_FILLED], fetched[sc.ORDER_REMAINING]) == (0.01, 0)
    assert fetched[sc.ORDER_AVERAGE_PRICE] == 49_000
    canceled = only(named(records, "order", "cancel_order")).attributes
    assert (canceled[sc.ORDER_ID], canceled[sc.ORDER_STATUS]) == (resting["id"], "canceled")
    assert canceled[sc.ORDER_SIDE] == "BUY"
    edit = only(named(records, "order", "edit_order")).attributes
    assert edit[sc.ORDER_ID] == edited["id"] != moved["id"]  # Binance's cancel-replace: a new id
    assert edit[sc.CALL_ARGUMENTS]["id"] == moved["id"]
    assert (edit[sc.ORDER_PRICE], edit[sc.ORDER_QUANTITY], edit[sc.ORDER_STATUS]) == (
        61_000, 0.02, "open")  # fmt: skip
    cancel_all = only(named(records, "order", "cancel_all_orders"))
    assert cancel_all.attributes[sc.SYMBOL] == SYMBOL
    assert cancel_all.attributes[sc.CALL_RESULT][0]["status"] == "canceled"


# --- trades, balances, positions, funding --------------------------------------------------------


def test_fetch_my_trades_twice_records_each_trade_once_as_a_fill(
    binance: Any, fake_binance: Any, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    tt.auto_instrument(binance, recorder=recorder)
    binance.create_market_order(SYMBOL, "sell", 0.02)  # trade 5001, taker
    resting = binance.create_limit_order(SYMBOL, "buy", 0.01, 49_000)
    fake_binance.fill(resting["id"])  # trade 5002, maker
    first = binance.fetch_my_trades(SYMBOL)
    binance.create_market_order(SYMBOL, "buy", 0.001)  # trade 5003
    second = binance.fetch_my_trades(SYMBOL)  # overlaps: 5001, 5002, 5003

    records = flushed(recorder, memory)
    fills = named(records, "fill")
    assert [f.attributes[sc.FILL_TRADE_ID] for f in fills] == ["5001", "5002", "5003"]
    spans = named(records, "span", "fetch_my_trades")
    assert [s.attributes[sc.CALL_RESULT] for s in spans] == [
        {"trades": 2, "new_fills": 2},
        {"trades": 3, "new_fills": 1},
    ]
    assert [f.parent_seq for f in fills] == [spans[0].seq, spans[0].seq, spans[1].seq]
    by_id = {t["id"]: t for t in first + second}
    for fill in fills:
        trade = by_id[fill.attributes[sc.FILL_TRADE_ID]]
        assert fill.time_ns == trade["timestamp"] * 1_000_000  # the exchange's time
        assert fill.attributes[sc.ORDER_ID] == trade["order"]
        assert fill.attributes[sc.SYMBOL] == SYMBOL
        assert fill.attributes[sc.FILL_PRICE] == trade["price"]
        assert fill.attributes[sc.FILL_QUANTITY] == trade["amount"]
        assert fill.attributes[sc.FEE_AMOUNT] == trade["fee"]["cost"]
        assert fill.attributes[sc.FEE_CURRENCY] == trade["fee"]["currency"]
        assert fill.attributes[sc.LEDGER_VENUE] == "binance"
        assert sc.INSTRUMENTATION_ERROR not in fill.attributes
    taker, maker, buy = (f.attributes for f in fills)
    assert (taker[sc.ORDER_SIDE], taker[sc.FILL_LIQUIDITY_SIDE], taker[sc.FEE_CURRENCY]) == (
        "SELL", "TAKER", "USDT")  # fmt: skip
    assert (maker[sc.ORDER_SIDE], maker[sc.FILL_LIQUIDITY_SIDE], maker[sc.FEE_CURRENCY]) == (
        "BUY", "MAKER", "BTC")  # fmt: skip
    assert maker[sc.FILL_NOTIONAL] == 490
    assert buy[sc.FILL_LIQUIDITY_SIDE] == "TAKER"


def test_fills_stay_unique_when_threads_poll_the_same_exchange(
    binance: Any, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    for _ in range(5):
        binance.create_market_order(SYMBOL, "sell", 0.01)
    tt.auto_instrument(binance, recorder=recorder)
    start = threading.Barrier(6)

    def poll() -> None:
        start.wait()
        for _ in range(3):
            binance.fetch_my_trades(SYMBOL)

    threads = [threading.Thread(target=poll) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    records = flushed(recorder, memory)
    assert len(named(records, "span", "fetch_my_trades")) == 18
    trade_ids = [f.attributes[sc.FILL_TRADE_ID] for f in named(records, "fill")]
    assert sorted(trade_ids) == ["5001", "5002", "5003", "5004", "5005"]


def test_fetch_balance_is_a_balance_snapshot_event(
    binance: Any, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    tt.auto_instrument(binance, recorder=recorder)
    balance = binance.fetch_balance()

    records = flushed(recorder, memory)
    span = only(named(records, "span", "fetch_balance"))
    event = only(named(records, "event", "BALANCE_SNAPSHOT"))
    assert event.parent_seq == span.seq
    assert event.status == "completed"
    assert event.attributes[sc.LEDGER_VENUE] == "BINANCE"
    assert event.attributes[sc.LEDGER_CEX_BALANCE_AFTER] == {
        "binance": {"BTC": 1.0, "ETH": 0.0, "USDT": 10_000.0}
    }
    snapshot = event.attributes[sc.LEDGER_WALLET_BALANCE_AFTER]
    assert snapshot["free"] == balance["free"] and snapshot["used"] == balance["used"]
    assert "info" not in repr(event.attributes)  # the raw reply is never stored
    assert span.attributes[sc.CALL_RESULT] == {"currencies": 3}


def test_fetch_positions_and_funding_history_are_snapshot_and_payment_events(
    binance: Any, fake_binance: Any, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    perp = "BTC/USDT:USDT"
    fake_binance.open_position("BTCUSDT", "0.010", "50000", "50100")
    fake_binance.pay_funding("BTCUSDT", "-0.5")
    tt.auto_instrument(binance, recorder=recorder)
    binance.fetch_positions([perp])
    first = binance.fetch_funding_history(perp)
    fake_binance.pay_funding("BTCUSDT", "0.25")
    second = binance.fetch_funding_history(perp)

    records = flushed(recorder, memory)
    positions = only(named(records, "event", "POSITIONS_SNAPSHOT")).attributes
    (position,) = positions[sc.LEDGER_ONCHAIN_POSITION_AFTER]["perp_positions"]["binance"]
    assert (position["symbol"], position["contracts"], position["side"]) == (perp, 0.01, "long")
    assert "info" not in position
    payments = named(records, "event", "FUNDING_PAYMENT")
    assert [p.attributes[sc.FUNDING_PNL_USD] for p in payments] == [-0.5, 0.25]
    assert [p.attributes[sc.FUNDING_PNL_TYPE] for p in payments] == ["PAID", "RECEIVED"]
    assert [p.time_ns for p in payments] == [
        first[0]["timestamp"] * 1_000_000,
        second[1]["timestamp"] * 1_000_000,
    ]
    assert {p.attributes[sc.LEDGER_TOKEN] for p in payments} == {"USDT"}
    spans = named(records, "span", "fetch_funding_history")
    assert [s.attributes[sc.CALL_RESULT] for s in spans] == [
        {"payments": 1, "new_payments": 1},
        {"payments": 2, "new_payments": 1},
    ]


# --- errors --------------------------------------------------------------------------------------


def test_insufficient_funds_is_an_error_record_and_is_reraised_unchanged(
    binance: Any, make_exchange: Factory, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    plain = make_exchange()
    plain.load_markets()
    with pytest.raises(ccxt.InsufficientFunds) as uninstrumented:
        plain.create_limit_order(SYMBOL, "buy", 1, 49_000)
    tt.auto_instrument(binance, recorder=recorder)

    with pytest.raises(ccxt.InsufficientFunds) as raised:
        binance.create_limit_order(SYMBOL, "buy", 1, 49_000)

    assert raised.type is uninstrumented.type is ccxt.InsufficientFunds
    assert str(raised.value) == str(uninstrumented.value) == INSUFFICIENT
    records = flushed(recorder, memory)
    span = only(named(records, "order", "create_limit_order"))
    error = only(named(records, "error"))
    assert (span.status, span.severity) == ("error", "ERROR")
    assert span.attributes[sc.EXCEPTION_TYPE] == "InsufficientFunds"
    assert error.parent_seq == span.seq
    assert error.attributes[sc.ERROR_TYPE] == "InsufficientFunds"
    assert error.attributes[sc.ERROR_RETRYABLE] is False
    assert error.attributes[sc.ERROR_MESSAGE] == INSUFFICIENT
    assert error.severity == "ERROR"


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("rate_limit", ccxt.DDoSProtection),  # HTTP 429: binance maps it to DDoSProtection
        ("ban", ccxt.DDoSProtection),  # HTTP 418
        ("disconnect", ccxt.NetworkError),
        ("stall", ccxt.RequestTimeout),
    ],
)
def test_network_errors_are_retryable(
    fault: str,
    expected: type[Exception],
    make_exchange: Factory,
    fake_binance: Any,
    recorder: tt.Recorder,
    memory: MemoryExporter,
) -> None:
    binance = make_exchange(timeout=500)
    binance.load_markets()
    tt.auto_instrument(binance, recorder=recorder)
    fake_binance.fail_next(fault)

    with pytest.raises(expected) as raised:
        binance.fetch_balance()

    assert raised.type is expected
    assert isinstance(raised.value, ccxt.NetworkError)
    error = only(named(flushed(recorder, memory), "error"))
    assert error.attributes[sc.ERROR_TYPE] == expected.__name__
    assert error.attributes[sc.ERROR_RETRYABLE] is True


# --- wrapping: exact restore, per instance, idempotent -------------------------------------------


def test_uninstrument_restores_the_instance_exactly(
    binance: Any, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    before = dict(vars(binance))
    original = binance.createOrder
    handle = tt.auto_instrument(binance, recorder=recorder)
    assert {"create_order", "createOrder", "fetch_my_trades", "fetchBalance"} <= set(handle.wrapped)
    assert isinstance(vars(binance)["createOrder"], wrapt.FunctionWrapper)

    handle.uninstrument()

    assert "create_order" not in vars(binance) and "createOrder" not in vars(binance)
    assert vars(binance).keys() == before.keys()
    assert all(vars(binance)[key] is value for key, value in before.items())
    assert binance.createOrder.__func__ is original.__func__ is type(binance).create_order
    binance.create_limit_order(SYMBOL, "buy", 0.01, 49_000)
    assert flushed(recorder, memory) == []
    assert tt.uninstrument(binance) is False


def test_a_second_instance_is_untouched(
    binance: Any, make_exchange: Factory, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    other = make_exchange()
    other.load_markets()
    handle = tt.auto_instrument(binance, recorder=recorder)

    assert not set(handle.wrapped) & set(vars(other))
    other.create_limit_order(SYMBOL, "buy", 0.01, 49_000)
    other.fetch_balance()
    assert flushed(recorder, memory) == []


def test_auto_instrument_twice_returns_the_same_handle_without_double_wrapping(
    binance: Any, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    first = tt.auto_instrument(binance, recorder=recorder)
    wrapper = vars(binance)["create_order"]
    second = tt.auto_instrument(binance, recorder=recorder)

    assert second is first
    assert vars(binance)["create_order"] is wrapper
    assert not isinstance(wrapper.__wrapped__, wrapt.ObjectProxy)  # the bound method itself
    binance.create_order(SYMBOL, "limit", "buy", 0.01, 49_000)
    assert len(named(flushed(recorder, memory), "order")) == 1


# --- async ---------------------------------------------------------------------------------------


def test_async_exchange_records_the_same_way(
    make_exchange: Factory, fake_binance: Any, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    exchange = make_exchange(asynchronous=True, timeout=500)
    original = exchange.createOrder

    async def trade() -> dict[str, Any]:
        try:
            await exchange.load_markets()
            handle = tt.auto_instrument(exchange, recorder=recorder)
            assert tt.auto_instrument(exchange, recorder=recorder) is handle
            order = await exchange.create_limit_order(SYMBOL, "buy", 0.01, 49_000)
            await exchange.createOrder(SYMBOL, "market", "sell", 0.02)
            fake_binance.fill(order["id"])
            await exchange.fetch_order(order["id"], SYMBOL)
            await exchange.fetch_my_trades(SYMBOL)
            await exchange.fetch_my_trades(SYMBOL)
            await exchange.fetch_balance()
            with pytest.raises(ccxt.InsufficientFunds):
                await exchange.create_limit_order(SYMBOL, "buy", 1, 49_000)
            fake_binance.fail_next("disconnect", times=2)  # aiohttp retries an idempotent GET once
            with pytest.raises(ccxt.NetworkError) as network:
                await exchange.fetch_balance()
            handle.uninstrument()
            return {"network": network.type}
        finally:
            await exchange.close()

    outcome = asyncio.run(trade())

    records = flushed(recorder, memory)
    assert posts(fake_binance) == 3
    orders = named(records, "order")
    assert [r.name for r in orders] == [
        "create_limit_order", "create_order", "fetch_order", "create_limit_order"]  # fmt: skip
    assert orders[0].attributes[sc.ORDER_SIDE] == "BUY"
    assert orders[0].attributes[sc.ORDER_STATUS] == "open"
    assert orders[1].attributes[sc.FEE_CURRENCY] == "USDT"
    assert orders[2].attributes[sc.ORDER_FILLED] == 0.01
    fills = named(records, "fill")
    assert sorted(f.attributes[sc.FILL_TRADE_ID] for f in fills) == ["5001", "5002"]
    assert only(named(records, "event", "BALANCE_SNAPSHOT")).attributes[
        sc.LEDGER_CEX_BALANCE_AFTER]["binance"]["BTC"] == 0.98999  # fmt: skip
    errors = named(records, "error")
    assert [e.attributes[sc.ERROR_TYPE] for e in errors] == [
        "InsufficientFunds", outcome["network"].__name__]  # fmt: skip
    assert [e.attributes[sc.ERROR_RETRYABLE] for e in errors] == [False, True]
    assert "create_order" not in vars(exchange)
    assert exchange.createOrder.__func__ is original.__func__


# --- secrets -------------------------------------------------------------------------------------


def _available(exporter: str) -> bool:
    """Whether the registry has ``exporter`` and its module exists (both are being added)."""
    return exporter in FACTORIES and importlib.util.find_spec(
        f"tradetrace.exporters.{exporter}") is not None  # fmt: skip


def _exported_text(directory: Path) -> Iterator[tuple[Path, bytes]]:
    """Every file's bytes, plus (for DuckDB and Parquet, which compress) their decoded rows."""
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        yield path, path.read_bytes()
        if path.suffix == ".parquet":
            rows = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()
            yield path, repr(rows).encode()
        elif path.suffix in (".duckdb", ".db"):
            with duckdb.connect(str(path), read_only=True) as db:
                for (table,) in db.sql("SELECT table_name FROM duckdb_tables()").fetchall():
                    yield path, repr(db.sql(f'SELECT * FROM "{table}"').fetchall()).encode()


def test_no_credential_or_signature_is_ever_exported(
    make_exchange: Factory,
    fake_binance: Any,
    credentials: dict[str, str],
    tmp_path: Path,
) -> None:
    memory = MemoryExporter()
    names = ("csv", "jsonl") + tuple(n for n in ("duckdb", "parquet") if _available(n))
    out = tmp_path / "out"
    rec = tt.Recorder(service_name="canary", exporters=(*names, memory), directory=out,
                      schedule_delay=0.01)  # fmt: skip
    raised: list[BaseException] = []

    def expect(error: type[Exception], call: Callable[[], Any]) -> None:
        with pytest.raises(error) as info:
            call()
        raised.append(info.value)

    exchange = make_exchange(timeout=500)
    exchange.load_markets()
    tt.auto_instrument(exchange, recorder=rec)
    order = exchange.create_limit_order(SYMBOL, "buy", 0.01, 49_000)
    exchange.fetch_order(order["id"], SYMBOL)
    exchange.cancel_order(order["id"], SYMBOL)
    exchange.createOrder(SYMBOL, "market", "sell", 0.02)
    exchange.fetch_my_trades(SYMBOL)
    exchange.fetch_balance()
    fake_binance.open_position("BTCUSDT", "0.010", "50000", "50100")
    fake_binance.pay_funding("BTCUSDT", "-0.5")
    exchange.fetch_positions(["BTC/USDT:USDT"])
    exchange.fetch_funding_history("BTC/USDT:USDT")
    expect(ccxt.InsufficientFunds, lambda: exchange.create_limit_order(SYMBOL, "buy", 1, 49_000))
    expect(ccxt.OrderNotFound, lambda: exchange.cancel_order("999", SYMBOL))
    for fault, error in (("rate_limit", ccxt.DDoSProtection), ("disconnect", ccxt.NetworkError),
                         ("stall", ccxt.RequestTimeout)):  # fmt: skip
        fake_binance.fail_next(fault)
        expect(error, exchange.fetch_balance)
    fake_binance.fail_next("stall")
    expect(ccxt.RequestTimeout, lambda: exchange.fetch_my_trades(SYMBOL))

    async_exchange = make_exchange(asynchronous=True, timeout=500)

    async def async_flow() -> None:
        try:
            await async_exchange.load_markets()
            tt.auto_instrument(async_exchange, recorder=rec)
            await async_exchange.create_limit_order(SYMBOL, "buy", 0.01, 48_000)
            await async_exchange.fetch_my_trades(SYMBOL)
            await async_exchange.fetch_balance()
            with pytest.raises(ccxt.InsufficientFunds) as info:
                await async_exchange.create_limit_order(SYMBOL, "buy", 1, 49_000)
            raised.append(info.value)
            fake_binance.fail_next("stall")
            with pytest.raises(ccxt.RequestTimeout) as timeout:
                await async_exchange.fetch_balance()
            raised.append(timeout.value)
        finally:
            await async_exchange.close()

    asyncio.run(async_flow())
    assert rec.shutdown(10)

    signatures = fake_binance.signatures()
    signed = [s for s in fake_binance.seen if s.signature]
    assert len(signatures) > 20
    assert {s.api_key for s in signed} == {credentials["apiKey"]}  # the key did go on the wire
    leaked_into_messages = [e for e in raised if any(s in str(e) for s in signatures)]
    assert len(leaked_into_messages) >= 3  # ccxt put signed URLs in those messages...
    canaries = [*credentials.values(), *signatures]
    records = memory.records
    assert len(named(records, "error")) == len(raised) == 8
    in_memory = "\n".join(repr(r) + repr(r.to_dict()) for r in records)
    for canary in canaries:  # ...and none of it came out
        assert canary not in in_memory
    files = list(_exported_text(out))
    wanted = {"csv": ".csv", "jsonl": ".jsonl", "duckdb": ".duckdb", "parquet": ".parquet"}
    assert {wanted[n] for n in names} <= {p.suffix for p, _ in files}  # every exporter wrote
    for path, data in files:
        for canary in canaries:
            assert canary.encode() not in data, f"{canary!r} leaked into {path}"


# --- the OpenTelemetry instrumentor --------------------------------------------------------------


@pytest.fixture
def instrumentor() -> Iterator[CcxtInstrumentor]:
    instrumentor = CcxtInstrumentor()
    yield instrumentor
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def test_instrumentor_instruments_every_exchange_built_while_on(
    instrumentor: CcxtInstrumentor,
    make_exchange: Factory,
    recorder: tt.Recorder,
    memory: MemoryExporter,
) -> None:
    own_inits = vars(SyncExchange).get("__init__"), vars(AsyncExchange).get("__init__")
    earlier = make_exchange()
    assert instrumentor.instrumentation_dependencies() == ("ccxt >= 4.0",)

    instrumentor.instrument(recorder=recorder)
    assert CcxtInstrumentor() is instrumentor
    exchange = make_exchange()
    async_exchange = make_exchange(asynchronous=True)

    assert "create_order" in vars(exchange) and "createOrder" in vars(async_exchange)
    assert "create_order" not in vars(earlier)
    assert {id(e) for e in instrumentor.instrumented_exchanges} == {
        id(exchange), id(async_exchange)}  # fmt: skip
    exchange.load_markets()
    exchange.create_limit_order(SYMBOL, "buy", 0.01, 49_000)

    async def trade() -> None:
        try:
            await async_exchange.load_markets()
            await async_exchange.create_limit_order(SYMBOL, "buy", 0.01, 48_000)
        finally:
            await async_exchange.close()

    asyncio.run(trade())
    orders = named(flushed(recorder, memory), "order")
    assert [o.attributes[sc.ORDER_PRICE] for o in orders] == [49_000, 48_000]

    instrumentor.uninstrument()
    assert (vars(SyncExchange).get("__init__"), vars(AsyncExchange).get("__init__")) == own_inits
    assert "create_order" not in vars(exchange) and "createOrder" not in vars(async_exchange)
    assert "create_order" not in vars(make_exchange())
    assert instrumentor.instrumented_exchanges == []


def test_instrument_and_uninstrument_twice_are_safe(
    instrumentor: CcxtInstrumentor, make_exchange: Factory, recorder: tt.Recorder
) -> None:
    own_init = vars(SyncExchange).get("__init__")  # None: ccxt 4.5 inherits BaseExchange's
    inner = SyncExchange.__init__
    instrumentor.instrument(recorder=recorder)
    instrumentor.instrument(recorder=recorder)  # warned about and ignored by BaseInstrumentor

    patched = vars(SyncExchange)["__init__"]
    assert isinstance(patched, wrapt.FunctionWrapper)
    assert patched.__wrapped__ is inner  # one layer, not two
    exchange = make_exchange()
    assert not isinstance(vars(exchange)["create_order"].__wrapped__, wrapt.ObjectProxy)

    instrumentor.uninstrument()
    instrumentor.uninstrument()
    assert vars(SyncExchange).get("__init__") is own_init
    assert not instrumentor.is_instrumented_by_opentelemetry
    instrumentor.instrument(recorder=recorder)  # and on again
    assert "create_order" in vars(make_exchange())


def test_a_failure_to_instrument_never_breaks_the_constructor(
    instrumentor: CcxtInstrumentor,
    make_exchange: Factory,
    recorder: tt.Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tradetrace.instrumentation.otel_ccxt as otel_ccxt

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(otel_ccxt, "auto_instrument", broken)
    instrumentor.instrument(recorder=recorder)
    exchange = make_exchange()
    assert exchange.id == "binance" and "create_order" not in vars(exchange)
    assert recorder.health()["internal_errors"] == {"ccxt_instrumentor": 1}


def _run_opentelemetry_instrument(tmp_path: Path, extra_path: Path | None = None) -> str:
    script = tmp_path / "bot.py"
    script.write_text(
        textwrap.dedent("""
        import ccxt
        import ccxt.async_support

        sync, asynchronous = ccxt.binance(), ccxt.async_support.binance()
        wrapped = [e for e in (sync, asynchronous) if "create_order" in vars(e)]
        print("instrumented", len(wrapped))
    """)
    )
    command = Path(sys.executable).with_name("opentelemetry-instrument")
    if not command.exists():
        pytest.skip(f"{command} is not installed (opentelemetry-instrumentation)")
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "none"}  # fmt: skip
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(extra_path), env.get("PYTHONPATH")) if p
        )
    done = subprocess.run(
        [str(command), sys.executable, str(script)], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _entry_point_visible() -> bool:
    group = importlib.metadata.entry_points(group="opentelemetry_instrumentor")
    return any(ep.value == ENTRY_POINT.split(" = ")[1] for ep in group)


@pytest.mark.skipif(
    not _entry_point_visible(),
    reason="entry point opentelemetry_instrumentor 'ccxt' is not installed: add it to "
    "pyproject.toml [project.entry-points.opentelemetry_instrumentor] and reinstall",
)
def test_opentelemetry_instrument_discovers_the_installed_entry_point(tmp_path: Path) -> None:
    assert "instrumented 2" in _run_opentelemetry_instrument(tmp_path)


def test_opentelemetry_instrument_loads_the_instrumentor_through_an_entry_point(
    tmp_path: Path,
) -> None:
    """The same discovery with the entry point declared by a throwaway distribution."""
    site = tmp_path / "site"
    dist = site / "tradetrace_ccxt_entry_point-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tradetrace-ccxt-entry-point\nVersion: 0.0\n"
    )
    (dist / "entry_points.txt").write_text(f"[opentelemetry_instrumentor]\n{ENTRY_POINT}\n")
    assert "instrumented 2" in _run_opentelemetry_instrument(tmp_path, site)


def test_records_join_the_current_opentelemetry_trace(
    binance: Any, recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("bot")
    tt.auto_instrument(binance, recorder=recorder)
    with tracer.start_as_current_span("bot") as bot:
        context = bot.get_span_context()
        binance.create_market_order(SYMBOL, "sell", 0.02)
        binance.fetch_my_trades(SYMBOL)
        with pytest.raises(ccxt.InsufficientFunds):
            binance.create_limit_order(SYMBOL, "buy", 1, 49_000)
    binance.fetch_balance()  # after the OTel span: a trace of its own

    records = flushed(recorder, memory)
    inside, after = records[:-2], records[-2:]
    assert {r.kind for r in inside} == {"order", "span", "fill", "error"}
    assert {r.trace_id for r in inside} == {context.trace_id}
    roots = [r for r in inside if r.parent_seq is None]
    assert [r.name for r in roots] == ["create_market_order", "fetch_my_trades",
                                       "create_limit_order"]  # fmt: skip
    assert {r.parent_span_id for r in roots} == {context.span_id}
    spans = {r.seq: r for r in roots}
    for child in (r for r in inside if r.parent_seq is not None):
        assert child.span_id == spans[child.parent_seq].span_id
    assert {r.trace_id for r in after} != {context.trace_id}
    assert after[0].parent_span_id is None


# --- the example ---------------------------------------------------------------------------------


def test_the_offline_example_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "ccxt_offline.py"), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in ("create_limit_order", "cancel_order", "fetch_my_trades", "BALANCE_SNAPSHOT",
                     "InsufficientFunds", "retryable=False", "liquidity_side=TAKER"):  # fmt: skip
        assert expected in out, out
    assert f"files written under {tmp_path}" in out
    assert list((tmp_path / "csv").glob("*_fills_*.csv"))
    assert list((tmp_path / "json").glob("*_orders_*.jsonl"))
