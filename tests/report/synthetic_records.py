"""A DuckDB source of any size, made inside DuckDB from ``range(n)``: a market-making session.

The ``records`` table has exactly ``semconv.TABLE_COLUMNS``. Row ``i`` is seq ``i + 1``, 100 ms
after the previous one, of the kind ``i % 20`` says: fills (two symbols, buys and sells,
realized PnL, fees, inventory, equity), orders, spread decisions, risk checks (1 % fail), spans,
ledger events (every 50th pair a bundle wrapper and its child, the next pair an event and its
lifecycle update) and errors (one in 200 rows). Values come from ``hash(i)``: the same ``n``
gives the same file.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tradetrace import semconv as sc

START_NS = 1_761_307_200_000_000_000  # 2025-10-24T12:00:00Z
STEP_NS = 100_000_000
RUN_ID = "run-synthetic"


def _unit(i: str, salt: int) -> str:
    """A pseudo-random number in [0, 1) from ``i``."""
    return f"((hash({i}, {salt}) % 1000003) / 1000003.0)"


_COLUMNS = {
    "seq": "i + 1",
    "run_id": f"'{RUN_ID}'",
    "kind": """CASE
        WHEN k < 6 THEN 'fill' WHEN k < 8 THEN 'order' WHEN k < 11 THEN 'decision'
        WHEN k = 18 AND i % 200 = 18 THEN 'error'
        WHEN k < 14 OR k = 18 THEN 'risk_check' WHEN k < 16 OR k = 19 THEN 'span'
        ELSE 'event' END""",
    "name": """CASE
        WHEN k < 6 THEN 'on_order_filled' WHEN k < 8 THEN 'place_order'
        WHEN k < 11 THEN 'calculate_optimal_spread'
        WHEN k = 18 AND i % 200 = 18 THEN 'api_error'
        WHEN k < 14 OR k = 18 THEN 'check_risk_limits' WHEN k < 16 OR k = 19 THEN 'quote_cycle'
        WHEN k = 16 AND g % 50 = 0 THEN 'ATOMIC_TRANSACTION'
        WHEN k = 17 AND g % 50 = 0 THEN 'FLASH_BORROW' ELSE 'VENUE_TRANSFER' END""",
    "time_ns": "t",
    "time": "make_timestamp(t // 1000)",
    "observed_ns": "t + 1000",
    "observed_time": "make_timestamp((t + 1000) // 1000)",
    "severity": """CASE
        WHEN k = 18 AND i % 200 = 18 THEN CASE WHEN i % 400 = 18 THEN 'ERROR' ELSE 'WARNING' END
        WHEN k IN (11, 12, 13, 18) AND u1 < 0.01 THEN 'CRITICAL' ELSE 'INFO' END""",
    "status": """CASE WHEN k >= 16 AND k <= 17 THEN
        CASE WHEN g % 50 = 1 AND k = 17 THEN 'confirmed' WHEN g % 50 = 1 THEN 'pending'
        ELSE 'completed' END
      WHEN kind_is_record THEN 'ok' END""",
    "parent_seq": "CASE WHEN k = 17 AND g % 50 = 0 THEN i END",
    "symbol": "CASE WHEN k < 8 THEN CASE WHEN i % 3 = 0 THEN 'ETH-USDT' ELSE 'BTC-USDT' END END",
    "side": "CASE WHEN k < 8 THEN CASE WHEN u2 < 0.5 THEN 'BUY' ELSE 'SELL' END END",
    "order_type": "CASE WHEN k < 8 THEN 'LIMIT' END",
    "order_id": "CASE WHEN k < 8 THEN 'order_' || (i // 20) END",
    "price": f"""CASE WHEN k < 6 THEN CAST(round(
        CASE WHEN i % 3 = 0 THEN 2500 + 80 * sin(i / 90000.0) ELSE 67500 + 900 * sin(i / 70000.0)
        END + 15 * {_unit("i", 3)}, 1) AS DECIMAL(18,1)) END""",
    "size": "CASE WHEN k < 6 THEN 0.001 END",
    "fee": "CASE WHEN k < 6 THEN CAST(0.0067 + 0.0002 * u3 AS DECIMAL(18,8)) END",
    "fee_asset": "CASE WHEN k < 6 THEN CASE WHEN i % 97 = 0 THEN 'BNB' ELSE 'USDT' END END",
    "realized_pnl": """CASE WHEN k < 6 THEN
        CAST((u1 - 0.3) * 0.04 AS DECIMAL(18,6)) END""",
    "inventory_before": "CASE WHEN k < 6 THEN CAST(0.02 * sin(i / 3000.0) AS DECIMAL(18,3)) END",
    "inventory_after": """CASE WHEN k < 6 THEN
        CAST(0.02 * sin((i + 1) / 3000.0) AS DECIMAL(18,3)) END""",
    "equity_after": """CASE WHEN k < 6 THEN
        CAST(1000 + i * 0.00002 + 3 * sin(i / 20000.0) AS DECIMAL(18,6)) END""",
    "decision_type": "CASE WHEN k BETWEEN 8 AND 10 THEN 'calculate_optimal_spread' END",
    "bid_spread": """CASE WHEN k BETWEEN 8 AND 10 THEN
        CAST(11 + sin(i / 50000.0) + 0.3 * u1 AS DECIMAL(18,6)) END""",
    "ask_spread": """CASE WHEN k BETWEEN 8 AND 10 THEN
        CAST(11.5 + sin(i / 40000.0) + 0.3 * u2 AS DECIMAL(18,6)) END""",
    "check_name": "CASE WHEN k IN (11, 12, 13, 18) AND NOT is_error THEN 'check_risk_limits' END",
    "passed": "CASE WHEN k IN (11, 12, 13, 18) AND NOT is_error THEN u1 >= 0.01 END",
    "risk_reason": """CASE WHEN k IN (11, 12, 13, 18) AND NOT is_error THEN
        '|inventory| ' || round(0.02 * u1 * 1.02, 3) || ' vs limit 0.020' END""",
    "error_type": "CASE WHEN is_error THEN CASE WHEN i % 600 = 18 THEN 'timeout' "
    "ELSE 'api_error' END END",
    "message": "CASE WHEN is_error THEN 'Rate limit exceeded: <1200> requests & more' END",
    "recovery_action": "CASE WHEN is_error THEN 'Retry after 1 second' END",
    "event_type": """CASE WHEN k >= 16 AND k <= 17 THEN CASE
        WHEN k = 16 AND g % 50 = 0 THEN 'ATOMIC_TRANSACTION'
        WHEN k = 17 AND g % 50 = 0 THEN 'FLASH_BORROW' ELSE 'VENUE_TRANSFER' END END""",
    "updates_seq": "CASE WHEN k = 17 AND g % 50 = 1 THEN i END",
    "venue": "CASE WHEN k >= 16 AND k <= 17 THEN 'BINANCE' END",
    "token": "CASE WHEN k >= 16 AND k <= 17 AND NOT (k = 16 AND g % 50 = 0) THEN 'USDT' END",
    "amount": """CASE WHEN k >= 16 AND k <= 17 AND NOT (k = 16 AND g % 50 = 0)
        AND NOT (k = 17 AND g % 50 = 1) THEN CAST(250 AS DECIMAL(38,18)) END""",
    "tx_hash": "CASE WHEN k = 17 AND g % 50 = 1 THEN '0x' || md5(CAST(i AS VARCHAR))[:8] END",
    "bundle_name": "CASE WHEN k = 16 AND g % 50 = 0 THEN 'ATOMIC_HEDGE' END",
    "detail_count": "CASE WHEN k = 16 AND g % 50 = 0 THEN 1 END",
}


def build_records(path: Path, n: int, *, drop_seqs: tuple[int, ...] = ()) -> Path:
    """Write a DuckDB file at ``path`` with ``n`` records (less ``drop_seqs``); return it."""
    types = dict(sc.TABLE_COLUMNS)
    unknown = set(_COLUMNS) - set(types)
    assert not unknown, f"not in semconv.TABLE_COLUMNS: {unknown}"
    create = ", ".join(f'"{name}" {sql_type}' for name, sql_type in sc.TABLE_COLUMNS)
    columns = ", ".join(f'"{name}"' for name in _COLUMNS)
    values = ",\n  ".join(f"CAST({sql} AS {types[name]})" for name, sql in _COLUMNS.items())
    dropped = f"WHERE i + 1 NOT IN ({', '.join(map(str, drop_seqs))})" if drop_seqs else ""
    with duckdb.connect(str(path)) as connection:
        connection.execute(f"CREATE TABLE records ({create})")
        connection.execute(f"""INSERT INTO records ({columns})
SELECT
  {values}
FROM (
  SELECT *, k < 16 OR k = 19 AS kind_is_record, k = 18 AND i % 200 = 18 AS is_error,
    {_unit("i", 1)} AS u1, {_unit("i", 2)} AS u2, {_unit("i", 5)} AS u3
  FROM (SELECT range AS i, range % 20 AS k, range // 20 AS g,
          {START_NS} + range * {STEP_NS} AS t FROM range({n}))
)
{dropped}""")
    return path
