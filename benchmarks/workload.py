"""What the benchmarks share: the seed's fill, the verdict word, peak memory, the load."""

from __future__ import annotations

import os
import platform
import resource
import sys
from typing import Any

import tradetrace

#: The 16 seed trade values of one fill, as ``record_fill`` keywords (the 17th is the time);
#: floats, as most strategies have them.
FILL: dict[str, Any] = {
    "symbol": "BTC-USDT",
    "side": "BUY",
    "price": 67_500.1,
    "quantity": 0.0015,
    "fee": 0.0101,
    "fee_currency": "USDT",
    "order_id": "ord-1720000000-000042",
    "client_order_id": "as-mm-000042",
    "order_type": "LIMIT",
    "realized_pnl": 1.25,
    "spread_captured": 0.35,
    "inventory_before": 0.012,
    "inventory_after": 0.0135,
    "equity_before": 10_000.0,
    "equity_after": 10_001.25,
    "notes": "bid hit at level 1",
}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def peak_rss_mb() -> float:
    """Peak RSS of this process since its ``exec``, in MB (``VmHWM``; else ``getrusage``)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB, macOS: bytes
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def load_average() -> str:
    try:
        return "load average {:.2f} {:.2f} {:.2f} (1, 5, 15 min)".format(*os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "load average unavailable"


def describe_environment(*versions: str) -> str:
    """tradetrace and Python versions, ``versions`` (``"duckdb 1.2"``), cores, system."""
    return ", ".join((
        f"tradetrace {tradetrace.__version__}", f"Python {platform.python_version()}",
        *versions, f"{os.cpu_count()} CPUs", f"{platform.system()} {platform.machine()}",
    ))  # fmt: skip
