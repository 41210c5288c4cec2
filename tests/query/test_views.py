"""The views over ``records``: the same rows from every source, and the numbers by hand."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from recorded_session import EXPECTED_PNL_DAILY, EXPECTED_SUMMARY, Session
from test_source import AVAILABLE, formats

import tradetrace
from tradetrace import semconv as sc
from tradetrace.query.source import Source, open_source
from tradetrace.query.views import (
    BASE_ASSET_SQL,
    FEE_QUOTE_SQL,
    QUOTE_ASSET_SQL,
    SEED_TRADE_COLUMNS,
    VIEWS,
)

EVERY_VIEW = ("records", "runs", *VIEWS)
SEED_TRADE_HEADER = (
    "timestamp,datetime_utc,order_id,client_order_id,symbol,side,order_type,price,size,fee,"
    "fee_asset,realized_pnl,spread_captured,inventory_before,inventory_after,equity_before,"
    "equity_after,notes"
)


def _normal(value: Any) -> Any:
    """JSON text compared by content (key order is the writer's), containers recursively."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    if isinstance(value, list):
        return [_normal(item) for item in value]
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items()}
    return value


Rows = dict[str, list[tuple[Any, ...]]]


def sorted_rows(source: Source, view: str) -> list[tuple[Any, ...]]:
    """The rows of ``view``, normalised and sorted (views over several sources agree on the
    set of rows, not on the order of ties)."""
    fetched = source.sql(f"SELECT * FROM {view}").fetchall()
    return sorted((tuple(_normal(v) for v in row) for row in fetched), key=repr)


@pytest.fixture(scope="module")
def view_rows(session: Session) -> dict[str, Rows]:
    """Per source format (opened once, on first use), every view's rows."""

    class Lazy(dict[str, Rows]):
        def __missing__(self, format: str) -> Rows:
            with open_source(session.directory, format=format) as source:
                self[format] = {view: sorted_rows(source, view) for view in EVERY_VIEW}
            return self[format]

    return Lazy()


@pytest.mark.parametrize("format", [f for f in formats() if f.values[0] != "jsonl"])
@pytest.mark.parametrize("view", EVERY_VIEW)
def test_every_view_returns_the_same_rows_from_every_source(
    view_rows: dict[str, Rows], format: str, view: str
) -> None:
    expected = view_rows["jsonl"][view]
    assert expected, f"{view} is empty: the session should exercise it"
    assert view_rows[format][view] == expected


@pytest.mark.parametrize("format", formats())
def test_fills_start_with_the_seed_trade_columns(session: Session, format: str) -> None:
    assert ",".join(SEED_TRADE_COLUMNS) == SEED_TRADE_HEADER
    with open_source(session.directory, format=format) as source:
        relation = source.sql("SELECT * FROM fills")
        columns, first = relation.columns, relation.fetchall()[0]
    assert tuple(columns[: len(SEED_TRADE_COLUMNS)]) == SEED_TRADE_COLUMNS
    row = dict(zip(columns, first, strict=True))
    assert row["timestamp"] == 1_715_508_000.0
    assert row["datetime_utc"] == "2024-05-12T10:00:00.000000000Z"
    assert (row["order_id"], row["side"], row["price"], row["size"]) == (
        "o-1", "BUY", Decimal("60000"), Decimal("0.01"),
    )  # fmt: skip
    assert row["notes"] == "-opening trade"


@pytest.mark.parametrize("format", formats())
def test_fees_are_converted_to_the_quote_currency(session: Session, format: str) -> None:
    with open_source(session.directory, format=format) as source:
        fees = source.sql(
            "SELECT order_id, fee, fee_asset, base_asset, quote_asset, fee_quote FROM fills"
        ).fetchall()
    assert fees == [
        ("o-1", Decimal("0.6"), "USDT", "BTC", "USDT", Decimal("0.6")),
        ("o-2", Decimal("0.00001"), "BTC", "BTC", "USDT", Decimal("0.61")),  # x 61000
        ("o-3", Decimal("0.75"), "USDT", "ETH", "USDT", Decimal("0.75")),
        ("o-4", Decimal("0.0005"), "ETH", "ETH", "USDT", Decimal("1.50525")),  # x 3010.5
        ("o-5", Decimal("0.01"), "BNB", "BTC", "USDT", None),  # neither: not converted
    ]


@pytest.mark.parametrize("format", formats())
def test_events_hide_lifecycle_updates_and_show_the_latest_status(
    session: Session, format: str
) -> None:
    seqs = session.seqs
    with open_source(session.directory, format=format) as source:
        events = source.sql("SELECT seq, event_type, status, current_status FROM events")
        status = source.sql(
            "SELECT seq, event_type, original_status, status, updates, last_update_seq "
            "FROM event_status"
        )
        event_rows, status_rows = events.fetchall(), status.fetchall()
    assert [row[0] for row in event_rows] == [
        seqs["stake"],
        seqs["bundle"],
        seqs["borrow"],
        seqs["deposit"],
    ]
    assert event_rows[0] == (seqs["stake"], "STAKE_DEPOSIT", "pending", "confirmed")
    assert status_rows[0] == (
        seqs["stake"], "STAKE_DEPOSIT", "pending", "confirmed", 2, seqs["confirmed"]
    )  # fmt: skip
    assert {row[3] for row in status_rows[1:]} == {"completed", "pending"}


@pytest.mark.parametrize("format", formats())
def test_bundles_list_their_children_in_order(session: Session, format: str) -> None:
    seqs = session.seqs
    with open_source(session.directory, format=format) as source:
        relation = source.sql("SELECT * FROM bundles")
        (bundle,) = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    assert bundle["seq"] == seqs["bundle"] and bundle["bundle_name"] == "ATOMIC_LEVERAGE_ENTRY"
    assert (bundle["status"], bundle["detail_count"], bundle["children_written"]) == (
        "completed", 2, 2,
    )  # fmt: skip
    assert json.loads(bundle["net_result"]) == {"collateral": "95.24"}
    children = bundle["children"]
    assert [(c["seq"], c["name"], c["venue"], c["amount"]) for c in children] == [
        (seqs["borrow"], "FLASH_BORROW", "BALANCER", Decimal("88.7")),
        (seqs["deposit"], "STAKE_DEPOSIT", "ETHERFI", Decimal("88.7")),
    ]


@pytest.mark.parametrize("format", formats())
def test_pnl_daily_per_utc_day_and_symbol(session: Session, format: str) -> None:
    with open_source(session.directory, format=format) as source:
        got = source.sql(
            "SELECT day::VARCHAR, symbol, trades, volume, fees, realized_pnl, net_pnl "
            "FROM pnl_daily"
        ).fetchall()
    assert got == [
        (day, symbol, trades, *(Decimal(v) for v in amounts))
        for day, symbol, trades, *amounts in EXPECTED_PNL_DAILY
    ]


@pytest.mark.parametrize("format", formats())
def test_summary_matches_the_hand_computed_numbers(session: Session, format: str) -> None:
    with open_source(session.directory, format=format) as source:
        stats = tradetrace.summary(source)
        assert source.sql("SELECT count(*) FROM summary").fetchall() == [(1,)]
    assert stats == EXPECTED_SUMMARY
    assert [type(stats[k]) for k in ("total_pnl", "total_fees", "net_pnl")] == [Decimal] * 3
    assert str(stats["total_fees"]) == "3.46525"  # no trailing zeros of the table's scale


def test_views_cover_every_kind() -> None:
    kinds = {kind.value for kind in sc.RecordKind}
    plural = {f"{kind}s" for kind in kinds}
    assert plural <= set(VIEWS), plural - set(VIEWS)
    assert AVAILABLE[:2] == ("csv", "jsonl")


def test_fee_assets_of_every_symbol_style() -> None:
    cases = [  # symbol, fee, fee asset, price -> fee in quote
        ("BTC/USDT:USDT", "0.5", "USDT", "60000", "0.5"),  # ccxt swap: quote
        ("BTC-USDT", "0.0001", "btc", "60000", "6"),  # base, any case
        ("ETH-BTC", "0.01", "ETH", "0.05", "0.0005"),  # base of a BTC-quoted pair
        ("ETH-BTC", "0.00001", "BTC", "0.05", "0.00001"),  # quote
        ("BTCUSDT", "0.0001", "BTC", "60000", "6"),  # no separator: starts with the base
        ("BTCUSDT", "0.3", "USDT", "60000", "0.3"),  # ... ends with the quote
        ("BTC_USDT", "0.3", None, "60000", "0.3"),  # no asset: the quote, as the seed
        ("BTC-USDT", "0.1", "BNB", "60000", None),  # neither: not converted
    ]
    values = ", ".join(
        f"('{s}', {f}::DECIMAL(38,18), {f'{a!r}' if a else 'NULL'}, {p}::DECIMAL(38,18))"
        for s, f, a, p, _ in cases
    )
    got = duckdb.sql(
        f"WITH f AS (SELECT *, {BASE_ASSET_SQL} AS base_asset, {QUOTE_ASSET_SQL} AS quote_asset "
        f"FROM (VALUES {values}) AS t(symbol, fee, fee_asset, price)) "
        f"SELECT CAST({FEE_QUOTE_SQL} AS DECIMAL(38,18)) FROM f"
    ).fetchall()
    assert [row[0] for row in got] == [
        None if expected is None else Decimal(expected) for *_, expected in cases
    ]
