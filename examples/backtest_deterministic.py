"""A deterministic backtest: a simulated clock, a fixed run id, byte-identical files every run.

Run: ``python examples/backtest_deterministic.py [OUTPUT_DIR]`` (runs the backtest twice and
compares the bytes).
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import tradetrace as tt
from tradetrace import ledger


def backtest(directory: Path) -> None:
    clock = tt.SimulatedClock("2024-05-12T00:00:00Z")
    rec = tt.Recorder(
        service_name="eth_basis", exporters=("csv", "jsonl"), directory=directory,
        mode="backtest", clock=clock, run_id="eth-basis-2024-05", deterministic=True,
    )  # fmt: skip
    for hour in range(48):
        clock.advance(timedelta(hours=1))  # on the hour, as the seed's backtests log
        ledger.price_update(recorder=rec, venue="BINANCE", token="ETH", price=f"{3000 + hour}.5")
        if hour % 8 == 0:  # funding every 8 hours
            ledger.funding_payment(recorder=rec, venue="binance", funding_rate="0.0001",
                                   notional_usd="30000", pnl_usd="3.00")  # fmt: skip
        if hour == 1:
            ledger.atomic_transaction(
                "ATOMIC_LEVERAGE_ENTRY", recorder=rec, net_result={"collateral": "95.24"},
                detail_events=[
                    {"event_type": "FLASH_BORROW", "venue": "BALANCER", "token": "WETH",
                     "amount": "88.7"},
                    {"event_type": "STAKE_DEPOSIT", "venue": "ETHERFI", "token": "ETH",
                     "amount": "88.7"},
                ],
            )  # fmt: skip
    rec.shutdown()


def digests(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*.*"))
        if "_runs." not in path.name  # the runs file names the host and pid on purpose
    }


def main(directory: str) -> None:
    root = Path(directory)
    backtest(root / "first")
    backtest(root / "second")
    first, second = digests(root / "first"), digests(root / "second")
    same = first == second
    print(f"{len(first)} files, byte-identical across the two runs: {same}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="tradetrace-"))
