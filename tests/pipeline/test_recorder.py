"""Recorder: global sequence, parents, clocks, explicit API and its refusals."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

import tradetrace as tt
from recording import flushed
from tradetrace import semconv as sc
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.pipeline.redaction import REDACTED


def test_sequence_is_gap_free_under_threads_and_asyncio_tasks(tmp_path: Path) -> None:
    memory = MemoryExporter()
    rec = tt.Recorder(exporters=(memory,), directory=tmp_path, queue_size=1_000_000)
    threads_n, per_thread, tasks_n, per_task = 8, 20_000, 200, 100
    seqs_by_thread: list[list[int]] = [[] for _ in range(threads_n)]

    def work(index: int) -> None:
        out = seqs_by_thread[index]
        for i in range(per_thread):
            out.append(rec.record_decision("tick", inputs={"i": i}))

    async def task(index: int) -> list[int]:
        out = []
        for i in range(per_task):
            out.append(rec.record_event("PRICE_UPDATE", amount=i, venue=f"T{index}"))
            if i % 10 == 0:
                await asyncio.sleep(0)
        return out

    async def all_tasks() -> list[list[int]]:
        return await asyncio.gather(*(task(i) for i in range(tasks_n)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    task_seqs = asyncio.run(all_tasks())
    for thread in threads:
        thread.join()
    assert rec.flush(30)
    total = threads_n * per_thread + tasks_n * per_task
    returned = sorted(s for seqs in seqs_by_thread + task_seqs for s in seqs)
    assert returned == list(range(1, total + 1))
    written = sorted(r.seq for r in memory.records)
    assert written == list(range(1, total + 1))
    for seqs in seqs_by_thread + task_seqs:  # each caller sees its own seqs increase
        assert seqs == sorted(seqs)
    print(f"{total} records from 8 threads and 200 tasks: seqs 1..{total}, no gap, no duplicate")
    rec.shutdown()


def test_bundle_wrapper_precedes_children_which_carry_parent_seq(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    with recorder.bundle("ATOMIC_LEVERAGE_ENTRY", net_result={"debt": Decimal("88.7")}) as b:
        first = b.record_event("FLASH_BORROW", venue="BALANCER", token="WETH", amount="10")
        second = recorder.record_event("STAKE_DEPOSIT", venue="ETHERFI", amount="10")
    records = {r.seq: r for r in flushed(recorder, memory)}
    wrapper = records[b.seq]
    assert b.seq < first < second
    assert records[first].parent_seq == b.seq and records[second].parent_seq == b.seq
    assert wrapper.name == "ATOMIC_TRANSACTION" and wrapper.status == "completed"
    assert wrapper.attributes[sc.BUNDLE_DETAIL_COUNT] == 2
    assert wrapper.attributes[sc.BUNDLE_NET_RESULT] == {"debt": Decimal("88.7")}
    assert records[first].trace_id == wrapper.trace_id


def test_bundle_that_raises_is_failed_and_keeps_children(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom) as raised, recorder.bundle("ATOMIC_DELEVERAGE") as b:
        child = recorder.record_event("FLASH_BORROW", amount=1)
        raise Boom("repay reverted")
    assert str(raised.value) == "repay reverted"
    records = {r.seq: r for r in flushed(recorder, memory)}
    assert records[b.seq].status == "failed"
    assert records[b.seq].attributes[sc.EXCEPTION_TYPE] == "Boom"
    assert "repay reverted" in records[b.seq].attributes[sc.EXCEPTION_STACKTRACE]
    assert records[child].parent_seq == b.seq


def test_nested_spans_follow_asyncio_tasks(recorder: tt.Recorder, memory: MemoryExporter) -> None:
    async def leg(name: str) -> int:
        with recorder.span(name):
            await asyncio.sleep(0.001)
            return recorder.record_decision("quote", inputs={"leg": name})

    async def main() -> tuple[int, list[int]]:
        async with recorder.span("rebalance", symbol="BTC-USDT") as outer:
            decisions = await asyncio.gather(leg("a"), leg("b"), leg("c"))
        return outer.seq, decisions

    outer_seq, decisions = asyncio.run(main())
    records = {r.seq: r for r in flushed(recorder, memory)}
    for decision in decisions:
        span = records[records[decision].parent_seq]
        assert span.kind == "span" and span.parent_seq == outer_seq
        assert span.parent_span_id == records[outer_seq].span_id
        assert records[decision].span_id == span.span_id
        assert span.seq < decision
        assert span.duration_ns >= 1_000_000
    assert records[outer_seq].attributes[sc.SYMBOL] == "BTC-USDT"


def test_span_records_the_exception_and_reraises_it_unchanged(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    error = KeyError("missing")
    with pytest.raises(KeyError) as raised, recorder.span("place_orders"):
        raise error
    assert raised.value is error
    (span,) = flushed(recorder, memory)
    assert span.status == "error" and span.attributes[sc.EXCEPTION_TYPE] == "KeyError"


def test_simulated_clock_drives_event_time_and_observed_is_wall(tmp_path: Path) -> None:
    memory = MemoryExporter()
    clock = tt.SimulatedClock("2024-05-12T14:00:00Z")
    rec = tt.Recorder(exporters=(memory,), directory=tmp_path, clock=clock, mode="backtest")
    before = time.time_ns()
    first = rec.record_event("GAS_FEE_PAID", venue="ETHEREUM", token="ETH", amount="0.0035")
    clock.advance_to(datetime(2024, 5, 12, 15, tzinfo=timezone.utc))
    second = rec.record_fill(symbol="ETH-USDT", side="SELL", price="3000", quantity="1")
    after = time.time_ns()
    records = {r.seq: r for r in flushed(rec, memory)}
    assert records[first].time_ns == 1_715_522_400 * 10**9
    assert records[second].time_ns == 1_715_526_000 * 10**9
    for record in records.values():
        assert before <= record.observed_ns <= after
    assert records[first].status == "completed"  # backtest events are completed
    assert memory.runs[0].clock_source == "simulated"
    rec.shutdown()


def test_explicit_time_argument_overrides_the_clock(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    seq = recorder.record_fill(
        symbol="BTC-USDT", side="BUY", price=1, quantity=1, time="2024-01-01T00:00:00.000000123Z"
    )
    (record,) = flushed(recorder, memory)
    assert record.seq == seq and record.time_ns == 1_704_067_200_000_000_123


def test_fill_keeps_decimals_exact_and_maps_column_names(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    recorder.record_fill(
        symbol="BTC-USDT",
        side="buy",
        price="67500.123456789012345678",
        quantity=Decimal("0.001"),
        fee=0.135,
        fee_currency="USDT",
        liquidity_side="maker",
        tx_hash="0xabc",
        leg="A",
    )
    (record,) = flushed(recorder, memory)
    a = record.attributes
    assert a[sc.FILL_PRICE] == Decimal("67500.123456789012345678")
    assert str(a[sc.FILL_PRICE]) == "67500.123456789012345678"
    assert a[sc.ORDER_SIDE] == "BUY" and a[sc.FILL_LIQUIDITY_SIDE] == "MAKER"
    assert a[sc.FEE_AMOUNT] == 0.135 and type(a[sc.FEE_AMOUNT]) is float
    assert a[sc.LEDGER_TX_HASH] == "0xabc" and a["leg"] == "A"
    assert record.severity == "INFO" and record.kind == "fill"


BAD_FILLS = [
    ({"side": "LONGISH"}, "side", "must be BUY or SELL"),
    ({"side": None}, "side", "must be BUY or SELL"),
    ({"quantity": 0}, "quantity", "greater than zero"),
    ({"quantity": "-1.5"}, "quantity", "greater than zero"),
    ({"quantity": float("nan")}, "quantity", "finite"),
    ({"price": float("inf")}, "price", "finite"),
    ({"price": "NaN"}, "price", "finite"),
    ({"price": "abc"}, "price", "not a decimal number"),
    ({"price": True}, "price", "must be a number"),
    ({"price": [1]}, "price", "must be a number"),
    ({"fee": float("-inf")}, "fee", "finite"),
    ({"fee": Decimal("Infinity")}, "fee", "finite"),
    ({"symbol": ""}, "symbol", "non-empty string"),
    ({"symbol": 3.5}, "symbol", "must be a string"),
    ({"liquidity_side": "both"}, "liquidity_side", "MAKER or TAKER"),
    ({"time": 1.5}, "time", "cannot read a timestamp"),
    ({"parent": -3}, "parent", "positive int"),
    ({"notes": float("nan")}, "notes", "must be a string"),
    ({"extra": float("nan")}, "extra", "finite"),
]


@pytest.mark.parametrize(("override", "field", "message"), BAD_FILLS)
def test_bad_fill_input_is_refused_naming_the_field_and_nothing_is_recorded(
    recorder: tt.Recorder, memory: MemoryExporter, override: dict, field: str, message: str
) -> None:
    fill = {"symbol": "BTC-USDT", "side": "BUY", "price": "100", "quantity": "1"} | override
    with pytest.raises(tt.InvalidRecordError) as raised:
        recorder.record_fill(**fill)
    assert isinstance(raised.value, ValueError)
    assert raised.value.field == field and message in str(raised.value)
    assert str(raised.value).startswith(f"{field}=")
    # nothing half-recorded: the next record takes seq 1
    assert recorder.record_fill(symbol="BTC-USDT", side="SELL", price=1, quantity=1) == 1
    assert [r.seq for r in flushed(recorder, memory)] == [1]


def test_other_bad_inputs_get_clear_errors(recorder: tt.Recorder) -> None:
    cases = [
        (lambda: recorder.record_error("api_error", severity="LOUD"), "severity", "one of"),
        (lambda: recorder.record_error("api_error", exception="boom"), "exception", "instance"),
        (lambda: recorder.record_risk_check("max_pos", passed="yes"), "passed", "True or False"),
        (lambda: recorder.record_risk_check("max_pos", passed=True, limit=math.nan), "limit", ""),
        (lambda: recorder.record_decision("", inputs={}), "name", "non-empty"),
        (lambda: recorder.record_decision("x", inputs=[1, 2]), "inputs", "mapping"),
        (lambda: recorder.record_decision("x", inputs={"a": math.inf}), "inputs.a", "finite"),
        (lambda: recorder.record_event("X", amount=""), "amount", "not a decimal number"),
        (lambda: recorder.record_event("X", status="lost"), "status", "one of"),
        (lambda: recorder.record_event("X", related=[1, 0]), "related", "positive int"),
        (lambda: recorder.record_event("X", snapshot=[1]), "snapshot", "mapping"),
        (lambda: recorder.update_event(99, "confirmed"), "seq", "no event with this seq"),
    ]
    for call, field, message in cases:
        with pytest.raises(tt.InvalidRecordError) as raised:
            call()
        assert raised.value.field == field, (field, raised.value)
        assert message in str(raised.value)
    assert recorder.health()["emitted"] == 0


def test_risk_check_failure_is_critical(recorder: tt.Recorder, memory: MemoryExporter) -> None:
    recorder.record_risk_check("inventory_limit", passed=True, limit="0.05", observed="0.01")
    recorder.record_risk_check(
        "inventory_limit", passed=False, reason="inventory 0.08 > 0.05", limit=0.05, observed=0.08
    )
    ok, failed = flushed(recorder, memory)
    assert (ok.severity, ok.status) == ("INFO", "ok")
    assert (failed.severity, failed.status) == ("CRITICAL", "failed")
    assert failed.attributes[sc.RISK_REASON] == "inventory 0.08 > 0.05"
    assert failed.attributes[sc.RISK_PASSED] is False


def test_error_carries_type_message_traceback_and_recovery(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    def place() -> None:
        raise ConnectionError("Rate limit exceeded")

    try:
        place()
    except ConnectionError as exc:
        recorder.record_error(
            "api_error", exception=exc, severity="warning", recovery_action="Retry after 1 second"
        )
    (record,) = flushed(recorder, memory)
    a = record.attributes
    assert record.severity == "WARNING" and record.name == "api_error"
    assert a[sc.ERROR_TYPE] == "api_error" and a[sc.EXCEPTION_TYPE] == "ConnectionError"
    assert a[sc.EXCEPTION_MESSAGE] == "Rate limit exceeded" == a[sc.ERROR_MESSAGE]
    assert "in place" in a[sc.EXCEPTION_STACKTRACE]
    assert a[sc.ERROR_RECOVERY_ACTION] == "Retry after 1 second"


def test_lifecycle_updates_are_new_records_and_transitions_are_enforced(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    seq = recorder.record_event("STAKE_DEPOSIT", venue="ETHERFI", token="ETH", amount="10")
    assert recorder.event_status(seq) == "pending"
    submitted = recorder.update_event(seq, "submitted", tx_hash="0xabc123")
    confirmed = recorder.update_event(
        seq, "confirmed", completion_timestamp="2024-05-12T14:00:12Z", confirmation_blocks=12
    )
    with pytest.raises(tt.LifecycleError, match="'confirmed'; it cannot become 'pending'"):
        recorder.update_event(seq, "pending")
    records = {r.seq: r for r in flushed(recorder, memory)}
    assert len(records) == 3 and recorder.event_status(seq) == "confirmed"
    assert records[seq].status == "pending"  # the original is never changed
    assert records[submitted].attributes[sc.EVENT_UPDATES_SEQ] == seq
    assert records[submitted].attributes[sc.LEDGER_TX_HASH] == "0xabc123"
    assert records[confirmed].attributes[sc.EVENT_COMPLETION_TIME] == 1_715_522_412 * 10**9
    assert records[confirmed].attributes[sc.LEDGER_CONFIRMATION_BLOCKS] == 12


def test_snapshot_is_stored_whole_with_derived_subsets(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    snapshot = {
        "wallet": {"ETH": 49.9965, "aWeETH": 95.24},
        "cex_accounts": {"binance": {"USDT": 24992.50, "api_secret": "canary"}},
        "perp_positions": {"binance": {"ETHUSDT": -10}},
    }
    recorder.record_event("GAS_FEE_PAID", venue="ETHEREUM", snapshot=snapshot)
    snapshot["wallet"]["ETH"] = 0  # later mutation by the caller must not leak in
    (record,) = flushed(recorder, memory)
    a = record.attributes
    assert a[sc.LEDGER_WALLET_BALANCE_AFTER]["wallet"] == {"ETH": 49.9965, "aWeETH": 95.24}
    assert a[sc.LEDGER_CEX_BALANCE_AFTER] == {"binance": {"USDT": 24992.5, "api_secret": REDACTED}}
    assert a[sc.LEDGER_ONCHAIN_POSITION_AFTER]["perp_positions"] == {"binance": {"ETHUSDT": -10}}


def test_secrets_in_keyword_attributes_and_nested_values_are_redacted(
    recorder: tt.Recorder, memory: MemoryExporter
) -> None:
    recorder.record_decision(
        "order_placement",
        inputs={"apiKey": "canary-1", "params": {"Signature": "canary-2", "qty": 1}},
        password="canary-3",
        liquidity_index="1.02",  # 'uid' inside 'liquidity' is not a secret
    )
    (record,) = flushed(recorder, memory)
    assert "canary" not in repr(record.attributes)
    assert record.attributes[sc.DECISION_INPUTS]["params"]["qty"] == 1
    assert record.attributes["password"] == REDACTED
    assert record.attributes[sc.LEDGER_LIQUIDITY_INDEX] == Decimal("1.02")


def test_entry_models_validate_like_the_api(recorder: tt.Recorder, memory: MemoryExporter) -> None:
    entry = tt.FillEntry(symbol="BTC-USDT", side="sell", price="1.10", quantity="2", fee="0.01")
    seq = recorder.record(entry)
    (record,) = flushed(recorder, memory)
    assert record.seq == seq and record.attributes[sc.FILL_PRICE] == Decimal("1.10")
    with pytest.raises(ValueError, match="quantity"):
        tt.FillEntry(symbol="BTC-USDT", side="BUY", price=1, quantity=0)
    with pytest.raises(ValueError, match="side"):
        tt.FillEntry(symbol="BTC-USDT", side="HOLD", price=1, quantity=1)
    with pytest.raises(ValueError, match="passed"):
        tt.RiskCheckEntry(name="x", passed="no")


def test_configure_sets_the_global_recorder(tmp_path: Path) -> None:
    memory = MemoryExporter()
    rec = tt.configure(service_name="global-test", exporters=(memory,), directory=tmp_path)
    try:
        assert tt.get_recorder() is rec
        seq = tt.record_fill(symbol="BTC-USDT", side="BUY", price=1, quantity=1)
        assert tt.flush(5)
        assert [r.seq for r in memory.records] == [seq]
        assert tt.health()["exporters"]["memory"]["exported"] == 1
    finally:
        tt.shutdown()


def test_configuration_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be used in file names"):
        tt.Recorder(service_name="../etc", directory=tmp_path)
    with pytest.raises(ValueError, match="unknown exporter 'kafka'"):
        tt.Recorder(exporters=("kafka",), directory=tmp_path)
    with pytest.raises(ValueError, match="'backtest' or 'live'"):
        tt.Recorder(mode="paper", directory=tmp_path)
    with pytest.raises(ValueError, match="SimulatedClock and a fixed run_id"):
        tt.Recorder(deterministic=True, directory=tmp_path)
    with pytest.raises(ValueError, match="overflow"):
        tt.Recorder(overflow="spill", exporters=(), directory=tmp_path)
