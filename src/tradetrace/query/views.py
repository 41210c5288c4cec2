"""The views over ``records``: one per record kind, lifecycles, bundles, daily PnL, summary.

Per-kind views (``fills``, ``orders``, ``decisions``, ``risk_checks``, ``errors``, ``events``,
``spans``) list their kind's file columns from ``semconv.KIND_COLUMNS``: ``fills`` starts with
the seed logger's trade header (``timestamp`` as epoch seconds, ``datetime_utc`` as ISO text,
``order_id`` ... ``notes``), so code written for the seed's CSV keeps working.

Fees are summed in the quote currency. A fill's ``fee_quote`` is its fee when the fee asset is
the symbol's quote asset (``USDT`` for ``BTC-USDT``, ``BTC/USDT`` or ``BTC/USDT:USDT``) or is
not given; ``fee x price`` when it is the base asset (``BTC``); NULL (left out of the totals and
reported by ``summary.unconverted_fees``) for any other asset. Without a separator in the symbol
(``BTCUSDT``), an asset the symbol ends with is the quote and one it starts with the base.
``fee x price`` and volumes (``price x size``) are computed with each factor rounded to 9
decimal places, since DECIMAL(38,18) cannot hold the exact product of two 18-place numbers.
Totals over several symbols assume they share one quote currency, as the seed logger did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradetrace import semconv as sc
from tradetrace.pipeline.recorder import ATOMIC_TRANSACTION
from tradetrace.query.readers import DECIMAL_TYPE, TABLE_TYPES, literal

if TYPE_CHECKING:
    import duckdb

_KIND = sc.RecordKind
_PRODUCT_FACTOR = "DECIMAL(38,9)"

#: ``timestamp``: epoch seconds (the seed's float), from the exact nanoseconds.
TIMESTAMP_SQL = "(time_ns // 1000000000) + (time_ns % 1000000000) / 1e9"
#: ``datetime_utc``: ``2024-05-12T10:00:00.000000000Z``, as in the CSV and JSON Lines files.
DATETIME_UTC_SQL = (
    "strftime(make_timestamp(time_ns // 1000), '%Y-%m-%dT%H:%M:%S') || '.' "
    "|| lpad(CAST(time_ns % 1000000000 AS VARCHAR), 9, '0') || 'Z'"
)
#: The seed logger's trade columns, which ``fills`` starts with.
SEED_TRADE_COLUMNS: tuple[str, ...] = sc.KIND_COLUMNS[_KIND.FILL][
    : sc.KIND_COLUMNS[_KIND.FILL].index("notes") + 1
]


def product(left: str, right: str) -> str:
    """``left x right`` as DECIMAL(38,18), each factor rounded to 9 places first."""
    return f"CAST({left} AS {_PRODUCT_FACTOR}) * CAST({right} AS {_PRODUCT_FACTOR})"


_ASSETS = "regexp_extract(symbol, '^([^-/_: ]+)[-/_ ]([^-/_: ]+)', ['base', 'quote'])"
BASE_ASSET_SQL = f"upper(nullif({_ASSETS}.base, ''))"
QUOTE_ASSET_SQL = f"upper(nullif({_ASSETS}.quote, ''))"
FEE_QUOTE_SQL = f"""CASE
    WHEN fee IS NULL THEN NULL
    WHEN fee_asset IS NULL OR upper(fee_asset) = quote_asset THEN fee
    WHEN upper(fee_asset) = base_asset THEN {product("fee", "price")}
    WHEN quote_asset IS NULL AND ends_with(upper(symbol), upper(fee_asset)) THEN fee
    WHEN base_asset IS NULL AND starts_with(upper(symbol), upper(fee_asset))
        THEN {product("fee", "price")}
  END"""


def kind_columns(kind: sc.RecordKind, after_head: tuple[str, ...] = ()) -> list[str]:
    """The SELECT list of a kind's view: its file's columns (those of the table), with
    ``timestamp``/``datetime_utc`` derived, ``after_head`` after the seed's columns, then
    ``time`` and ``exact_text``."""
    columns: list[str] = []
    layout = sc.KIND_COLUMNS[kind]
    head_end = layout.index("notes") if kind is _KIND.FILL else -1
    for index, column in enumerate(layout):
        if column == "timestamp":
            columns.append(f"{TIMESTAMP_SQL} AS timestamp")
        elif column == "datetime_utc":
            columns.append(f"{DATETIME_UTC_SQL} AS datetime_utc")
        elif column in TABLE_TYPES:
            columns.append(column)
        if index == head_end:
            columns.extend(after_head)
    columns.extend(("time", sc.EXACT_TEXT_COLUMN))
    return columns


_ORDER = "ORDER BY time_ns, run_id, seq"
_SEP = ",\n  "


def _kind_view(kind: sc.RecordKind, where: str = "", order: str = _ORDER) -> str:
    select = _SEP.join(kind_columns(kind))
    condition = f"kind = {literal(kind.value)}" + (f" AND {where}" if where else "")
    return f"SELECT\n  {select}\nFROM records\nWHERE {condition}\n{order}"


_FILLS = f"""WITH f AS (
  SELECT *, {BASE_ASSET_SQL} AS base_asset, {QUOTE_ASSET_SQL} AS quote_asset
  FROM records WHERE kind = {literal(_KIND.FILL.value)}
), q AS (
  SELECT *, CAST({FEE_QUOTE_SQL} AS {DECIMAL_TYPE}) AS fee_quote FROM f
)
SELECT
  {_SEP.join(kind_columns(_KIND.FILL, ("fee_quote", "base_asset", "quote_asset")))}
FROM q
{_ORDER}"""

_EVENT = literal(_KIND.EVENT.value)

_EVENT_STATUS = f"""WITH updates AS (
  SELECT run_id, updates_seq AS seq, count(*) AS updates, max(seq) AS last_update_seq,
    arg_max(status, seq) AS last_status, arg_max(time, seq) AS last_update_time
  FROM records
  WHERE kind = {_EVENT} AND updates_seq IS NOT NULL
  GROUP BY run_id, updates_seq
)
SELECT
  e.run_id, e.seq, coalesce(e.event_type, e.name) AS event_type, e.time,
  e.status AS original_status, coalesce(u.last_status, e.status) AS status,
  coalesce(u.updates, 0) AS updates, u.last_update_seq, u.last_update_time
FROM records AS e
LEFT JOIN updates AS u ON u.run_id = e.run_id AND u.seq = e.seq
WHERE e.kind = {_EVENT} AND e.updates_seq IS NULL
ORDER BY e.time_ns, e.run_id, e.seq"""


#: Balance snapshots: a repeated large one is written once per run, later records carrying
#: only its ``snapshot_id``; ``events`` shows the content on every record.
SNAPSHOT_COLUMNS: tuple[str, ...] = tuple(
    sc.COLUMN_OF[key]
    for key in (
        sc.LEDGER_WALLET_BALANCE_AFTER,
        sc.LEDGER_CEX_BALANCE_AFTER,
        sc.LEDGER_ONCHAIN_POSITION_AFTER,
    )
)
_SNAPSHOT_ID = sc.COLUMN_OF[sc.LEDGER_SNAPSHOT_ID]

_EVENTS = f"""WITH e AS (
{_kind_view(_KIND.EVENT, "updates_seq IS NULL", order="")}
), snapshots AS (
  SELECT run_id, {_SNAPSHOT_ID},
    {", ".join(f"arg_min({c}, seq) AS {c}" for c in SNAPSHOT_COLUMNS)}
  FROM records
  WHERE {_SNAPSHOT_ID} IS NOT NULL AND {SNAPSHOT_COLUMNS[0]} IS NOT NULL
  GROUP BY run_id, {_SNAPSHOT_ID}
)
SELECT
  e.* REPLACE ({", ".join(f"coalesce(e.{c}, p.{c}) AS {c}" for c in SNAPSHOT_COLUMNS)}),
  s.status AS current_status, s.updates
FROM e
LEFT JOIN snapshots AS p ON p.run_id = e.run_id AND p.{_SNAPSHOT_ID} = e.{_SNAPSHOT_ID}
LEFT JOIN event_status AS s ON s.run_id = e.run_id AND s.seq = e.seq
ORDER BY e.time_ns, e.run_id, e.seq"""


#: Fields of each child in ``bundles.children``.
CHILD_FIELDS: tuple[str, ...] = (
    "seq", "kind", "name", "time", "status", "venue", "token", "amount", "symbol", "side",
    "price", "size",
)  # fmt: skip

_BUNDLES = f"""WITH children AS (
  SELECT run_id, parent_seq,
    list(struct_pack({", ".join(f"{c} := {c}" for c in CHILD_FIELDS)}) ORDER BY seq) AS children
  FROM records
  WHERE parent_seq IS NOT NULL
  GROUP BY run_id, parent_seq
)
SELECT
  b.run_id, b.seq, b.bundle_name, coalesce(s.status, b.status) AS status, b.detail_count,
  coalesce(len(c.children), 0) AS children_written, b.time, b.duration_ns, b.venue,
  b.net_result, c.children
FROM records AS b
LEFT JOIN children AS c ON c.run_id = b.run_id AND c.parent_seq = b.seq
LEFT JOIN event_status AS s ON s.run_id = b.run_id AND s.seq = b.seq
WHERE b.kind = {_EVENT} AND b.event_type = {literal(ATOMIC_TRANSACTION)}
  AND b.updates_seq IS NULL
ORDER BY b.time_ns, b.run_id, b.seq"""

#: The UTC day of event time, as the exporters name their daily files.
DAY_SQL = "DATE '1970-01-01' + CAST(time_ns // 86400000000000 AS INTEGER)"

_PNL_DAILY = f"""SELECT
  {DAY_SQL} AS day, symbol, count(*) AS trades,
  coalesce(sum({product("price", "size")}), 0) AS volume,
  coalesce(sum(fee_quote), 0) AS fees,
  coalesce(sum(realized_pnl), 0) AS realized_pnl,
  coalesce(sum(realized_pnl), 0) - coalesce(sum(fee_quote), 0) AS net_pnl
FROM fills
GROUP BY day, symbol
ORDER BY day, symbol"""

_COUNT_MAP = "MAP(VARCHAR, BIGINT)"
_AMOUNT_MAP = f"MAP(VARCHAR, {DECIMAL_TYPE})"

_SUMMARY = f"""WITH f AS (
  SELECT count(*) AS total_trades,
    count(*) FILTER (WHERE realized_pnl > 0) AS winning_trades,
    count(*) FILTER (WHERE realized_pnl < 0) AS losing_trades,
    coalesce(sum(realized_pnl), 0) AS total_pnl,
    coalesce(sum(fee_quote), 0) AS total_fees
  FROM fills
), by_type AS (
  SELECT coalesce(error_type, name) AS error_type, count(*) AS n FROM records
  WHERE kind = {literal(_KIND.ERROR.value)} GROUP BY 1
), other_fees AS (
  SELECT upper(fee_asset) AS asset, sum(fee) AS amount FROM fills
  WHERE fee IS NOT NULL AND fee_quote IS NULL GROUP BY 1
)
SELECT
  total_trades, winning_trades, losing_trades,
  CASE WHEN total_trades = 0 THEN 0.0
    ELSE CAST(winning_trades AS DOUBLE) * 100 / total_trades END AS win_rate,
  total_pnl, total_fees, total_pnl - total_fees AS net_pnl,
  (SELECT count(*) FROM records WHERE kind = {literal(_KIND.DECISION.value)}) AS total_decisions,
  (SELECT count(*) FROM records WHERE kind = {literal(_KIND.ERROR.value)}) AS total_errors,
  coalesce((SELECT map_from_entries(list((error_type, n) ORDER BY error_type)) FROM by_type),
    MAP {{}}::{_COUNT_MAP}) AS error_breakdown,
  coalesce((SELECT map_from_entries(list((asset, amount) ORDER BY asset)) FROM other_fees),
    MAP {{}}::{_AMOUNT_MAP}) AS unconverted_fees
FROM f"""

#: Every view, in creation order (later views use earlier ones): name -> SELECT.
VIEWS: dict[str, str] = {
    "fills": _FILLS,
    "orders": _kind_view(_KIND.ORDER),
    "decisions": _kind_view(_KIND.DECISION),
    "risk_checks": _kind_view(_KIND.RISK_CHECK),
    "errors": _kind_view(_KIND.ERROR),
    "spans": _kind_view(_KIND.SPAN),
    "event_status": _EVENT_STATUS,
    "events": _EVENTS,
    "bundles": _BUNDLES,
    "pnl_daily": _PNL_DAILY,
    "summary": _SUMMARY,
}


def create_views(connection: duckdb.DuckDBPyConnection, temporary: bool = False) -> None:
    """Create every view of :data:`VIEWS` over the connection's ``records`` view (as temporary
    views when the connection's database is not ours to change)."""
    kind = "TEMP VIEW" if temporary else "VIEW"
    for name, select in VIEWS.items():
        connection.execute(f"CREATE {kind} {name} AS\n{select}")
