"""Records as Arrow tables: the unified schema, exact decimals, and values that do not fit."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradetrace import semconv as sc
from tradetrace.exporters.arrow_table import (
    ARROW_TYPE_OF_SQL,
    SCHEMA,
    exact_decimal,
    fit_decimal,
    records_table,
)
from tradetrace.records import Record

T0 = 1_715_515_200_000_000_123  # 2024-05-12T12:00:00.000000123Z


def record(seq: int = 1, kind: str = "fill", **attributes: Any) -> Record:
    return Record(seq, "run-1", kind, kind, T0 + seq, T0 + seq + 7, None, None, None, None,
                  None, None, "INFO", None, attributes)  # fmt: skip


def row(table: pa.Table, index: int = 0) -> dict[str, Any]:
    return {
        name: column[index].as_py()
        for name, column in zip(table.column_names, table.columns, strict=True)
    }


def extras(table: pa.Table, index: int = 0) -> dict[str, Any] | None:
    text = table.column(sc.ATTRIBUTES_COLUMN)[index].as_py()
    return None if text is None else json.loads(text)


def exact(table: pa.Table, index: int = 0) -> dict[str, str] | None:
    text = table.column(sc.EXACT_TEXT_COLUMN)[index].as_py()
    return None if text is None else json.loads(text)


# --- schema ----------------------------------------------------------------------------------


def test_schema_is_table_columns_with_their_arrow_types() -> None:
    assert SCHEMA.names == [name for name, _ in sc.TABLE_COLUMNS]
    assert len(set(SCHEMA.names)) == len(SCHEMA.names)
    for (name, sql), field in zip(sc.TABLE_COLUMNS, SCHEMA, strict=True):
        assert field.type == ARROW_TYPE_OF_SQL[sql], name
    assert SCHEMA.field("price").type == pa.decimal128(38, 18)
    assert SCHEMA.field("time").type == pa.timestamp("ns", tz="UTC")
    assert SCHEMA.field("related_seqs").type == pa.list_(pa.int64())
    assert SCHEMA.field("passed").type == pa.bool_()
    assert SCHEMA.field(sc.ATTRIBUTES_COLUMN).type == pa.string()


def test_empty_batch_is_an_empty_table_of_the_schema() -> None:
    table = records_table([])
    assert table.num_rows == 0
    assert table.schema == SCHEMA


# --- record fields ---------------------------------------------------------------------------


def test_record_fields_ids_and_times() -> None:
    r = Record(7, "run-9", "span", "rebalance", T0, T0 + 5, 1_500, 0xABC, 0x12, 0x1, 3, (1, 2),
               "ERROR", "error", {})  # fmt: skip
    got = row(records_table([r]))
    assert got["seq"] == 7 and got["run_id"] == "run-9" and got["kind"] == "span"
    assert got["name"] == "rebalance" and got["duration_ns"] == 1_500
    assert got["trace_id"] == "00000000000000000000000000000abc"
    assert got["span_id"] == "0000000000000012"
    assert got["parent_span_id"] == "0000000000000001"
    assert got["parent_seq"] == 3 and got["related_seqs"] == [1, 2]
    assert got["severity"] == "ERROR" and got["status"] == "error"
    assert got["time_ns"] == T0 and got["observed_ns"] == T0 + 5
    time_column = records_table([r]).column("time")
    assert time_column.cast(pa.int64())[0].as_py() == T0  # nanoseconds kept
    assert str(time_column[0]) == "2024-05-12 12:00:00.000000123+00:00"
    assert got[sc.ATTRIBUTES_COLUMN] is None and got[sc.EXACT_TEXT_COLUMN] is None


def test_deterministic_records_have_no_observed_time() -> None:
    r = Record(1, "r", "fill", "fill", T0, None, None, None, None, None, None, None, None, None,
               {})  # fmt: skip
    got = row(records_table([r]))
    assert got["observed_ns"] is None and got["observed_time"] is None


def test_unused_columns_are_null() -> None:
    table = records_table([record(symbol_only=1)])
    assert table.column("price").null_count == 1
    assert table.column("block_number").null_count == 1


# --- attributes to columns -------------------------------------------------------------------


def test_attributes_go_to_their_columns() -> None:
    table = records_table([
        record(**{sc.SYMBOL: "BTC-USDT", sc.ORDER_SIDE: "BUY", sc.FILL_PRICE: Decimal("67500.1"),
                  sc.FILL_QUANTITY: 0.0015, sc.FEE_AMOUNT: 2, sc.LEDGER_BLOCK_NUMBER: 19_000_000,
                  sc.RISK_PASSED: True, sc.DECISION_INPUTS: {"gamma": Decimal("0.1")}}),
    ])  # fmt: skip
    got = row(table)
    assert got["symbol"] == "BTC-USDT" and got["side"] == "BUY"
    assert got["price"] == Decimal("67500.1") and got["size"] == Decimal("0.0015")
    assert got["fee"] == Decimal(2) and got["block_number"] == 19_000_000
    assert got["passed"] is True
    assert json.loads(got["parameters"]) == {"gamma": "0.1"}
    assert got[sc.ATTRIBUTES_COLUMN] is None


def test_attributes_without_a_column_go_to_the_attributes_object() -> None:
    table = records_table([record(**{sc.SYMBOL: "ETH", "strategy.level": 3, "tag": "x"}),
                           record(2, **{sc.SYMBOL: "BTC"})])  # fmt: skip
    assert extras(table, 0) == {"strategy.level": 3, "tag": "x"}
    assert extras(table, 1) is None
    assert table.column("symbol").to_pylist() == ["ETH", "BTC"]


# --- exact decimals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        Decimal("67500.123456789012345678"),
        Decimal("0.000000000000000001"),
        Decimal("-99999999999999999999.999999999999999999"),
        Decimal("1.000000000000000000000"),  # trailing zeros beyond 18 places: still exact
        "123.45",
        7,
        0.1,
        1e-7,
        67500.1,
    ],
)
def test_decimals_that_fit_are_exact(value: Any) -> None:
    table = records_table([record(**{sc.FILL_PRICE: value})])
    expected = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    assert table.column("price")[0].as_py() == expected
    assert exact(table) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.1234567890123456789"), "0.1234567890123456789"),  # 19 places
        (Decimal("123456789012345678901"), "123456789012345678901"),  # 21 integer digits
        ("123456789012345678901.5", "123456789012345678901.5"),
        (10**25, "10000000000000000000000000"),
        (1e-20, "0.00000000000000000001"),
        (0.1 + 0.2 - 0.3, "0.00000000000000005551115123125783"),  # shortest repr, 32 places
        (Decimal("NaN"), "NaN"),
        (3.402823466e38, "340282346600000000000000000000000000000"),  # Arrow would wrap it
        (1e20, "100000000000000000000"),
        (-(2**127), str(-(2**127))),
        (Decimal("9.99E+37"), "99900000000000000000000000000000000000"),
        # pyarrow and Arrow turn these into 0 without a word; they must be refused first
        (
            Decimal("3.99999999999998389398001418166E-28"),
            "0.000000000000000000000000000399999999999998389398001418166",
        ),
        (
            Decimal("55.283236573180367653505379412173636477426483698914865051715"),
            "55.283236573180367653505379412173636477426483698914865051715",
        ),
        (2.415105009057134e-239, format(Decimal("2.415105009057134e-239"), "f")),
    ],
)
def test_decimals_that_do_not_fit_keep_every_digit_in_exact_text(value: Any, text: str) -> None:
    table = records_table([record(**{sc.FILL_PRICE: value, sc.FEE_AMOUNT: Decimal("1.5")})])
    assert table.column("price")[0].as_py() is None
    assert exact(table) == {"price": text}
    assert table.column("fee")[0].as_py() == Decimal("1.5")


def test_one_inexact_value_does_not_disturb_the_others() -> None:
    batch = [record(1, **{sc.FILL_PRICE: 1.5}), record(2, **{sc.FILL_PRICE: 1e-19}),
             record(3, **{sc.FILL_PRICE: 2.25})]  # fmt: skip
    table = records_table(batch)
    assert table.column("price").to_pylist() == [Decimal("1.5"), None, Decimal("2.25")]
    assert [exact(table, i) for i in range(3)] == [None, {"price": "0.0000000000000000001"}, None]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=40))
def test_floats_are_their_shortest_repr_or_exact_text(values: list[float]) -> None:
    table = records_table([record(i + 1, **{sc.FILL_PRICE: v}) for i, v in enumerate(values)])
    for i, value in enumerate(values):
        expected = Decimal(repr(value))
        got = table.column("price")[i].as_py()
        if fit_decimal(expected) is not None:
            assert got == expected and exact(table, i) is None
        else:
            assert got is None and Decimal(exact(table, i)["price"]) == expected  # type: ignore[index]


@settings(max_examples=300, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_decimals_are_exact_or_exact_text(value: Decimal) -> None:
    table = records_table([record(**{sc.FILL_PRICE: value})])
    got = table.column("price")[0].as_py()
    if fit_decimal(value) is not None:
        assert got == value and exact(table) is None
    else:
        assert got is None and exact(table) == {"price": format(value, "f")}


def test_exact_decimal_and_fit_rules() -> None:
    assert exact_decimal(0.1) == Decimal("0.1")
    assert exact_decimal(" 2.50 ") == Decimal("2.50")
    assert exact_decimal(True) is None and exact_decimal("abc") is None
    assert exact_decimal({"a": 1}) is None
    assert fit_decimal(Decimal("99999999999999999999")) is not None  # 20 integer digits
    assert fit_decimal(Decimal("100000000000000000000")) is None  # 21
    assert fit_decimal(Decimal("1E-18")) == Decimal("0.000000000000000001")
    assert fit_decimal(Decimal("1E-19")) is None
    assert fit_decimal(Decimal("-0")) == 0
    assert fit_decimal(Decimal("Infinity")) is None


# --- values of the wrong type ----------------------------------------------------------------


def test_wrong_types_go_to_attributes_and_never_fail_the_batch() -> None:
    batch = [
        record(1, **{sc.LEDGER_BLOCK_NUMBER: "abc", sc.SYMBOL: {"nested": 1},
                     sc.RISK_PASSED: 1, sc.FILL_PRICE: True, sc.FEE_AMOUNT: "n/a",
                     sc.LEDGER_GAS_UNITS: 2**70, sc.EVENT_ITERATION: 1.0}),
        record(2, **{sc.LEDGER_BLOCK_NUMBER: 5, sc.SYMBOL: "BTC", sc.RISK_PASSED: False,
                     sc.FILL_PRICE: 3, sc.FEE_AMOUNT: "0.5", sc.LEDGER_GAS_UNITS: 21_000}),
    ]  # fmt: skip
    table = records_table(batch)
    assert extras(table, 0) == {
        sc.LEDGER_BLOCK_NUMBER: "abc",
        sc.SYMBOL: {"nested": 1},
        sc.RISK_PASSED: 1,
        sc.FILL_PRICE: True,
        sc.FEE_AMOUNT: "n/a",
        sc.LEDGER_GAS_UNITS: str(2**70),  # beyond 64 bits: its exact digits as text
        sc.EVENT_ITERATION: 1.0,
    }
    assert extras(table, 1) is None
    second = row(table, 1)
    assert second["block_number"] == 5 and second["symbol"] == "BTC"
    assert second["passed"] is False and second["price"] == Decimal(3)
    assert second["fee"] == Decimal("0.5") and second["gas_units"] == 21_000
    first = row(table, 0)
    assert first["block_number"] is None and first["symbol"] is None and first["passed"] is None


def test_lone_surrogates_are_escaped_not_fatal() -> None:
    table = records_table([record(**{sc.SYMBOL: "bad\udcff", sc.NOTES: "ok"})])
    assert table.column("symbol")[0].as_py() == "bad\\udcff"
    assert table.column("notes")[0].as_py() == "ok"


def test_non_finite_floats_in_decimal_columns_keep_their_text() -> None:
    table = records_table([record(**{sc.FILL_PRICE: math.inf})])
    assert table.column("price")[0].as_py() is None
    assert exact(table) == {"price": "Infinity"}


def test_long_batches_share_their_null_blocks() -> None:
    batch = [record(i + 1, **{sc.FILL_PRICE: float(i)}) for i in range(10_000)]
    records_table(batch)  # the shared null blocks are made once
    before = pa.total_allocated_bytes()
    table = records_table(batch)
    assert table.num_rows == 10_000 and table.schema == SCHEMA
    assert table.column("block_number").null_count == 10_000
    assert table.column("price")[9_999].as_py() == Decimal("9999")
    # 35 decimal columns of 10 000 nulls would take 5.6 MB on their own
    assert pa.total_allocated_bytes() - before < 2_000_000
