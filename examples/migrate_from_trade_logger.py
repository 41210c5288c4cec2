"""The seed TradeLogger's demo, run on tradetrace: only the import line changed.

    python examples/migrate_from_trade_logger.py [DIRECTORY]

Logs 3 trades, 1 spread decision and 1 API error, prints the seed's summary statistics and
exports JSON, writing ``DIRECTORY/logs/data/{csv,json}/`` (a new temporary directory if none is
given). Every entry also got a tradetrace seq; ``exporters=("jsonl",)`` would add tradetrace's
own files for the full product (SQL queries, verify) under ``logs/data/tradetrace/``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

# before: from common.trade_logger import TradeLogger, create_trade_entry, ...
from tradetrace.compat import (
    TradeLogger,
    create_decision_entry,
    create_error_entry,
    create_trade_entry,
)


class APIError(Exception):
    """The venue's error, as in the seed demo."""


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="trade-logger-"))
    base_dir = root / "logs" / "data"
    print("=== TradeLogger Demo ===\n")
    with TradeLogger(strategy_name="demo_strategy", base_dir=base_dir) as logger:
        print("Logging trades...")
        inventory, equity = 0.0, 100.0
        for i, (side, pnl) in enumerate((("BUY", 0.5), ("SELL", 0.4), ("BUY", -0.2))):
            after = inventory + (0.001 if side == "BUY" else -0.001)
            logger.log_trade(
                create_trade_entry(
                    order_id=f"order_{i + 1}",
                    client_order_id=f"client_{i + 1}",
                    symbol="BTC-USDT",
                    side=side,
                    order_type="LIMIT",
                    price=67500.0 + i * 10,
                    size=0.001,
                    fee=0.135,
                    fee_asset="USDT",
                    realized_pnl=pnl,
                    spread_captured=0.025,
                    inventory_before=inventory,
                    inventory_after=round(after, 6),
                    equity_before=equity,
                    equity_after=round(equity + pnl, 6),
                    notes=f"Demo trade {i + 1}",
                )
            )
            inventory, equity = round(after, 6), round(equity + pnl, 6)

        print("Logging decisions...")
        logger.log_decision(
            create_decision_entry(
                decision_type="spread_calculation",
                symbol="BTC-USDT",
                parameters={"gamma": 0.1, "sigma": 0.02, "k": 1.5},
                result={"bid_spread": 0.025, "ask_spread": 0.025},
                reason="Avellaneda-Stoikov formula",
                notes="Using static parameters",
            )
        )

        print("Logging error...")
        logger.log_error(
            create_error_entry(
                error_type="api_error",
                severity="WARNING",
                symbol="BTC-USDT",
                message="Order placement failed",
                exception=APIError("Rate limit exceeded"),
                recovery_action="Retry after 1 second",
                notes="Temporary API issue",
            )
        )

        stats = logger.get_summary_stats()
        print("\n=== Summary Stats ===")
        print(f"total_trades: {stats['total_trades']}")
        print(f"winning_trades: {stats['winning_trades']}")
        print(f"losing_trades: {stats['losing_trades']}")
        print(f"win_rate: {stats['win_rate']:.2f}%")
        print(f"total_pnl: {stats['total_pnl']:.2f}")
        print(f"total_fees: {stats['total_fees']:.3f}")
        print(f"net_pnl: {stats['net_pnl']:.3f}")
        print(f"total_decisions: {stats['total_decisions']}")
        print(f"total_errors: {stats['total_errors']}")
        print(f"error_breakdown: {stats['error_breakdown']}")

        print("\n=== Exporting to JSON ===")
        for kind, path in logger.export_to_json().items():
            print(f"{kind}: {path}")

    print(f"\nDemo complete. Check {base_dir} directory for output files.")
    for path in sorted((base_dir / "csv").glob("*.csv")):
        print(f"csv: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
