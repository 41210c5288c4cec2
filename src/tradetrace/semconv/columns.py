"""Column layouts for tabular exporters (CSV today; DuckDB and Parquet use the same names).

Each record kind has its own file; its header starts with the seed logger's columns for that kind
(so a seed user's pandas code keeps working), then the other columns relevant to the kind, then
the record fields every kind shares, and last ``attributes``: a JSON object of everything else.
"""

from __future__ import annotations

from tradetrace.semconv.attributes import ATTRIBUTES
from tradetrace.semconv.enums import RecordKind

#: Time columns derived from ``time_ns``: the seed's float ``timestamp`` and ISO ``datetime_utc``.
TIME_COLUMNS: tuple[str, ...] = ("timestamp", "datetime_utc")

#: Columns filled from the Record's own fields (not from its attributes).
RECORD_COLUMNS: tuple[str, ...] = (
    "seq",
    "run_id",
    "kind",
    "name",
    "time_ns",
    "observed_ns",
    "duration_ns",
    "trace_id",
    "span_id",
    "parent_span_id",
    "parent_seq",
    "related_seqs",
    "severity",
    "status",
)

#: The column holding every attribute that has no column of its own in the file.
ATTRIBUTES_COLUMN = "attributes"

_SEED_TRADE = (
    "timestamp", "datetime_utc", "order_id", "client_order_id", "symbol", "side", "order_type",
    "price", "size", "fee", "fee_asset", "realized_pnl", "spread_captured", "inventory_before",
    "inventory_after", "equity_before", "equity_after", "notes",
)  # fmt: skip
_SEED_DECISION = (
    "timestamp", "datetime_utc", "decision_type", "symbol", "parameters", "result", "reason",
    "notes",
)  # fmt: skip
_SEED_ERROR = (
    "timestamp", "datetime_utc", "error_type", "severity", "symbol", "message", "exception_type",
    "exception_message", "stack_trace", "recovery_action", "notes",
)  # fmt: skip

_ledger_groups = ("trading.ledger", "trading.event", "trading.funding", "trading.bundle")
_EVENT_EXTRA = tuple(
    spec.column for spec in ATTRIBUTES.values() if spec.group in _ledger_groups
) + ("notional_usd", "entry_price", "instrument", "side", "symbol", "notes")

# fmt: off
_KIND_HEAD: dict[RecordKind, tuple[str, ...]] = {
    RecordKind.FILL: _SEED_TRADE
    + ("trade_id", "liquidity_side", "fee_rate", "notional", "venue", "time_in_force"),
    RecordKind.ORDER: (
        "timestamp", "datetime_utc", "order_id", "client_order_id", "symbol", "side",
        "order_type", "time_in_force", "order_price", "stop_price", "order_quantity",
        "filled_quantity", "remaining_quantity", "average_price", "order_status", "reduce_only",
        "post_only", "fee", "fee_asset", "fee_rate", "venue", "notes", "function",
        "arguments", "call_result", "instrumentation_error",
    ),
    RecordKind.DECISION: _SEED_DECISION + ("bid_spread", "ask_spread"),
    RecordKind.RISK_CHECK: (
        "timestamp", "datetime_utc", "check_name", "symbol", "passed", "risk_reason",
        "limit_value", "observed_value", "severity", "notes",
    ),
    RecordKind.ERROR: _SEED_ERROR + ("retryable", "venue"),
    RecordKind.EVENT: ("timestamp", "datetime_utc", "event_type", "status") + _EVENT_EXTRA,
    RecordKind.SPAN: ("timestamp", "datetime_utc", "name", "status", "duration_ns", "function",
                      "symbol", "arguments", "call_result", "instrumentation_error"),
}
# fmt: on


def _layout(head: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = dict.fromkeys(head)
    for column in (*RECORD_COLUMNS, ATTRIBUTES_COLUMN):
        seen.setdefault(column, None)
    return tuple(seen)


#: Record kind -> the ordered columns of its CSV file / JSON Lines objects.
KIND_COLUMNS: dict[RecordKind, tuple[str, ...]] = {
    kind: _layout(head) for kind, head in _KIND_HEAD.items()
}

#: Every column of every kind, in a stable order (the unified table of DuckDB and Parquet).
ALL_COLUMNS: tuple[str, ...] = _layout(
    TIME_COLUMNS + tuple(spec.column for spec in ATTRIBUTES.values())
)

#: The plural file stem of each kind: ``fills``, ``risk_checks``, ...
KIND_FILE_STEM: dict[RecordKind, str] = {kind: f"{kind.value}s" for kind in RecordKind}

#: SQL type of each attribute value type in the unified ``records`` table (DuckDB, Parquet).
SQL_TYPE_OF_VALUE: dict[str, str] = {
    "string": "VARCHAR",
    "decimal": "DECIMAL(38,18)",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "json": "JSON",
    "time_ns": "BIGINT",
    "int[]": "BIGINT[]",
}

#: Column holding, as a JSON object ``{column: "digits"}``, exact numbers too wide for
#: DECIMAL(38,18) (more than 20 integer digits or more than 18 decimal places); the typed
#: column is NULL for them.
EXACT_TEXT_COLUMN = "exact_text"

#: The unified ``records`` table of DuckDB and Parquet: (column, SQL type), in order. Record
#: fields first (``time``/``observed_time`` as TIMESTAMPTZ beside the exact ns integers), then
#: one typed column per semconv attribute, then ``attributes`` (JSON of everything else) and
#: ``exact_text``.
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "BIGINT"),
    ("run_id", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("name", "VARCHAR"),
    ("time", "TIMESTAMPTZ"),
    ("time_ns", "BIGINT"),
    ("observed_time", "TIMESTAMPTZ"),
    ("observed_ns", "BIGINT"),
    ("duration_ns", "BIGINT"),
    ("trace_id", "VARCHAR"),
    ("span_id", "VARCHAR"),
    ("parent_span_id", "VARCHAR"),
    ("parent_seq", "BIGINT"),
    ("related_seqs", "BIGINT[]"),
    ("severity", "VARCHAR"),
    ("status", "VARCHAR"),
    *((spec.column, SQL_TYPE_OF_VALUE[spec.type]) for spec in ATTRIBUTES.values()),
    (ATTRIBUTES_COLUMN, "JSON"),
    (EXACT_TEXT_COLUMN, "JSON"),
)
