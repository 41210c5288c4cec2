"""@tt.instrument on your own strategy functions: decisions, risk checks, spans, async.

Run: ``python examples/decorate_strategy.py [OUTPUT_DIR]``
"""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile

import tradetrace as tt


@tt.instrument("spread_calculation", kind="decision")
def calculate_spread(gamma: float, sigma: float, k: float, horizon: float) -> tuple:
    """Avellaneda-Stoikov optimal half-spreads -> recorded with bid/ask spread columns."""
    spread = gamma * sigma**2 * horizon + (2 / gamma) * math.log(1 + gamma / k)
    return round(spread / 2, 6), round(spread / 2, 6)


@tt.instrument("inventory_limit", kind="risk_check")
def check_inventory(inventory: float, limit: float) -> tuple[bool, str]:
    """A failed check is recorded CRITICAL with its reason."""
    return abs(inventory) <= limit, f"|{inventory}| vs {limit}"


@tt.instrument("quote_cycle")
async def quote_cycle(step: int, inventory: float) -> None:
    """A span: the decision and the check above become its children, across await."""
    await asyncio.sleep(0)
    calculate_spread(0.1, 2.0, 1.5, horizon=1 - step / 10)
    check_inventory(inventory, limit=0.004)


async def run() -> None:
    await asyncio.gather(*(quote_cycle(step, inventory=step / 1000) for step in range(6)))


def main(directory: str) -> None:
    tt.configure(service_name="decorated", exporters=("jsonl", "console"), directory=directory)
    asyncio.run(run())
    tt.shutdown()
    print(f"files under {directory}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="tradetrace-"))
