"""A real ccxt.binance, auto-instrumented, trading against a local fake exchange: no network.

    python examples/ccxt_offline.py [DIRECTORY]

Starts the fake Binance of ``fake_exchange.py`` on 127.0.0.1, points ccxt at it (ccxt's own
HTTP, HMAC signing and error mapping all run), then places and cancels a limit order, sells at
market, fetches trades (each new trade becomes a fill record) and the balance (a
BALANCE_SNAPSHOT event), and hits Binance's insufficient-balance reply (an InsufficientFunds
error record). Prints every record, one a line, and the files written under DIRECTORY (a new
temporary directory if none is given).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import ccxt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_exchange import FakeBinance  # the sibling file, not a package

import tradetrace as tt
from tradetrace import semconv as sc

API_KEY, SECRET = "demo-api-key", "demo-secret"
SHOWN = (sc.SYMBOL, sc.ORDER_SIDE, sc.ORDER_TYPE, sc.ORDER_ID, sc.ORDER_PRICE,
         sc.ORDER_QUANTITY, sc.ORDER_STATUS, sc.ORDER_FILLED, sc.FILL_TRADE_ID, sc.FILL_PRICE,
         sc.FILL_QUANTITY, sc.FILL_LIQUIDITY_SIDE, sc.FEE_AMOUNT, sc.FEE_CURRENCY,
         sc.LEDGER_CEX_BALANCE_AFTER, sc.ERROR_RETRYABLE, sc.ERROR_MESSAGE)  # fmt: skip


def describe(record: tt.Record) -> str:
    """One line: seq, kind, name, status, parent and the interesting attributes."""
    fields = " ".join(
        f"{sc.COLUMN_OF[key]}={record.attributes[key]}" for key in SHOWN if key in record.attributes
    )
    parent = f"parent={record.parent_seq}" if record.parent_seq else ""
    return f"{record.seq:>3} {record.kind:<6} {record.name:<20} {record.status or '':<9} " \
           f"{parent:<9} {fields}"  # fmt: skip


def main(argv: list[str]) -> int:
    directory = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="tt-ccxt-"))
    rec = tt.configure(
        service_name="ccxt-offline", exporters=("csv", "jsonl", "memory"), directory=directory
    )
    with FakeBinance(api_key=API_KEY, secret=SECRET) as server:
        exchange = server.point(ccxt.binance({"apiKey": API_KEY, "secret": SECRET}))
        print(f"fake Binance at {server.base_url}; {len(exchange.load_markets())} markets")
        handle = tt.auto_instrument(exchange)
        order = exchange.create_limit_order("BTC/USDT", "buy", 0.01, 49_000)
        exchange.cancel_order(order["id"], "BTC/USDT")
        exchange.create_market_order("BTC/USDT", "sell", 0.02)
        exchange.fetch_my_trades("BTC/USDT")
        exchange.fetch_balance()
        try:
            exchange.create_limit_order("BTC/USDT", "buy", 1, 49_000)  # 49,000 USDT: too much
        except ccxt.InsufficientFunds as exc:
            print(f"refused, as expected: {type(exc).__name__}: {exc}")
        handle.uninstrument()
        exchange.close()
    tt.shutdown()
    memory = next(e for e in rec.exporters if e.name == "memory")
    print(f"\n{len(memory.records)} records (run {rec.run_id}):")
    for record in sorted(memory.records, key=lambda r: r.seq):
        print(describe(record))
    print(f"\nfiles written under {directory}:")
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        print(f"  {path.relative_to(directory)} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
