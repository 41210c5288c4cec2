"""Semantic conventions: coverage of the seed and ccxt fields, and docs/semconv.md freshness."""

from __future__ import annotations

from pathlib import Path

from tradetrace import semconv as sc
from tradetrace.semconv.reference import render_markdown

ROOT = Path(__file__).resolve().parents[2]

SEED_TRADE = (
    "timestamp datetime_utc order_id client_order_id symbol side order_type price size fee "
    "fee_asset realized_pnl spread_captured inventory_before inventory_after equity_before "
    "equity_after notes"
).split()
SEED_DECISION = "timestamp datetime_utc decision_type symbol parameters result reason notes".split()
SEED_ERROR = (
    "timestamp datetime_utc error_type severity symbol message exception_type exception_message "
    "stack_trace recovery_action notes"
).split()
SEED_EVENT = (
    "status event_type event_id venue token amount wallet_balance_after cex_balance_after "
    "aave_position_after gas_cost_eth gas_cost_usd gas_units gas_price_gwei execution_cost_usd "
    "execution_cost_bps purpose transaction_type related_seqs iteration parent_seq trigger_time_ns "
    "completion_time_ns tx_hash confirmation_blocks fee_type input_token output_token amount_out "
    "oracle_price atoken_received liquidity_index conversion_note bundle_name net_result "
    "detail_count side instrument entry_price notional_usd funding_rate pnl_usd pnl_type"
).split()
CCXT_AND_NAUTILUS = (
    "client_order_id time_in_force average_price filled_quantity remaining_quantity "
    "liquidity_side fee_rate trade_id order_id"
).split()


def test_seed_headers_lead_their_files() -> None:
    assert list(sc.KIND_COLUMNS[sc.RecordKind.FILL][: len(SEED_TRADE)]) == SEED_TRADE
    assert list(sc.KIND_COLUMNS[sc.RecordKind.DECISION][: len(SEED_DECISION)]) == SEED_DECISION
    assert list(sc.KIND_COLUMNS[sc.RecordKind.ERROR][: len(SEED_ERROR)]) == SEED_ERROR


def test_every_seed_event_field_and_ccxt_field_has_a_column() -> None:
    events = set(sc.KIND_COLUMNS[sc.RecordKind.EVENT])
    assert set(SEED_EVENT) <= events, set(SEED_EVENT) - events
    assert set(CCXT_AND_NAUTILUS) <= set(sc.ALL_COLUMNS)


def test_names_follow_opentelemetry_rules() -> None:
    for spec in sc.ATTRIBUTES.values():
        assert spec.key == spec.key.lower() and " " not in spec.key
        assert spec.key.startswith(("trading.", "error.", "exception.", "code.")), spec.key
        assert spec.column.isidentifier()
    assert len(set(sc.COLUMN_OF.values())) == len(sc.COLUMN_OF)  # one column per attribute


def test_enums_carry_wire_values() -> None:
    assert sc.Side.BUY == "BUY" and str(sc.Status.PENDING) == "pending"
    assert {k.value for k in sc.RecordKind} == {
        "fill", "order", "decision", "risk_check", "error", "event", "span",
    }  # fmt: skip
    assert sc.Status.PENDING not in sc.STATUS_TRANSITIONS[sc.Status.CONFIRMED]


def test_docs_semconv_md_is_generated_and_fresh() -> None:
    doc = ROOT / "docs" / "semconv.md"
    assert doc.read_text(encoding="utf-8") == render_markdown(), (
        "docs/semconv.md is stale: run `python -m tradetrace.semconv > docs/semconv.md`"
    )
