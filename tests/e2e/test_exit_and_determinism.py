"""Interpreter exit flushes; deterministic backtests write byte-identical files."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import tradetrace as tt


def test_records_are_flushed_at_interpreter_exit_without_shutdown(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import tradetrace as tt
        rec = tt.Recorder(service_name="exit", exporters=("jsonl",), directory={str(tmp_path)!r},
                          schedule_delay=60)
        for i in range(5000):
            rec.record_fill(symbol="BTC-USDT", side="BUY", price=i + 1, quantity=1)
        # no flush, no shutdown: the atexit hook must deliver everything
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (path,) = (tmp_path / "json").glob("exit_fills_*.jsonl")
    assert len(path.read_text().splitlines()) == 5000


def _backtest(directory: Path) -> dict[str, str]:
    clock = tt.SimulatedClock("2024-05-12T00:00:00Z")
    rec = tt.Recorder(
        service_name="bt", exporters=("csv", "jsonl"), directory=directory, mode="backtest",
        clock=clock, run_id="backtest-1", deterministic=True,
    )  # fmt: skip
    for hour in range(200):
        clock.advance(3_600 * 10**9)
        with rec.span("hourly", iteration=hour):
            rec.record_decision("rebalance", inputs={"hour": hour}, result={"target": "0.5"})
            rec.record_fill(symbol="ETH-USDT", side="BUY" if hour % 2 else "SELL",
                            price=f"{3000 + hour}.25", quantity="0.1", fee="0.03")  # fmt: skip
        with rec.bundle("ATOMIC_LEVERAGE_ENTRY") as b:
            b.record_event("FLASH_BORROW", venue="BALANCER", amount="1")
    assert rec.shutdown(10)
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*.*"))
        if "_runs." not in p.name  # the runs file names host and pid on purpose
    }


def test_deterministic_backtest_writes_identical_bytes(tmp_path: Path) -> None:
    first, second = _backtest(tmp_path / "a"), _backtest(tmp_path / "b")
    assert len(first) == 72  # 9 UTC days x 4 kinds x (csv, jsonl)
    assert first == second
