"""SQL over a recorded session: the seed's use cases as queries over the DuckDB export.

Run: ``python examples/sql_over_duckdb.py [OUTPUT_DIR]`` (records a demo session there first).
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

import tradetrace as tt
from tradetrace.demo import run_demo
from tradetrace.query.render import table

QUESTIONS = {
    "Backtest validation: what did each quoting cycle decide, and what filled?": """
        SELECT date_trunc('minute', d.time) AS minute, count(DISTINCT d.seq) AS decisions,
               count(DISTINCT f.seq) AS fills, round(avg(d.bid_spread), 4) AS avg_bid_spread
        FROM decisions d LEFT JOIN fills f ON f.parent_seq = d.parent_seq
        WHERE d.decision_type = 'calculate_optimal_spread'
        GROUP BY ALL ORDER BY minute LIMIT 5""",
    "Fee impact: how much of the gross PnL did fees take, per day?": """
        SELECT day, symbol, trades, realized_pnl, fees, net_pnl,
               round(100 * fees / nullif(realized_pnl, 0), 1) AS fees_pct_of_gross
        FROM pnl_daily ORDER BY day, symbol""",
    "Decision patterns: when and why did the strategy skew its quotes?": """
        SELECT CASE WHEN result::DOUBLE > 0 THEN 'long: skew down'
                    WHEN result::DOUBLE < 0 THEN 'short: skew up' ELSE 'flat' END AS regime,
               count(*) AS decisions, round(avg(abs(result::DOUBLE)), 4) AS avg_skew
        FROM decisions WHERE decision_type = 'inventory_skew' GROUP BY ALL ORDER BY ALL""",
    "Error patterns: what failed, how often, and what was done?": """
        SELECT error_type, severity, count(*) AS errors, any_value(recovery_action) AS recovery
        FROM errors GROUP BY ALL ORDER BY errors DESC""",
}


def main(directory: str) -> None:
    root = Path(directory)
    run_demo(root, steps=300, out=io.StringIO(), exporters=("duckdb",))
    source = root / "tradetrace.duckdb"
    for question, sql in QUESTIONS.items():
        relation = tt.query(sql, source=source)
        print(f"\n{question}\n{table(relation.columns, relation.fetchall())}")
    print(tt.summary(source=source))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="tradetrace-"))
