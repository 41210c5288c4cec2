"""Child processes for tests/e2e/test_durability.py, run as ``python durability_child.py ...``.

``kill9 DIRECTORY RUN_ID PROGRESS CYCLES``: records the mixed workload of :func:`plan` in spool
mode (CSV, JSON Lines, DuckDB) and publishes after every call how many calls have returned, as
one aligned 8-byte store into the mmap'd file PROGRESS (exact whatever the moment of a SIGKILL);
``len(plan(CYCLES))`` once recording is over, one more once ``shutdown()`` has returned.

``canary DIRECTORY OTLP_URL``: records secrets in spool mode with every exporter, then kills
itself with SIGKILL before any shutdown (the spool files still hold records).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tradetrace as tt
from tradetrace.exporters.base import ExportResult
from tradetrace.records import Record

SERVICE = "k9"
KILL9_EXPORTERS = ("csv", "jsonl", "duckdb")
CANARY_SERVICE = "canary"
POISON = "POISON_PILL"
#: Recorded next to the secrets in plain sight: the scan must find it everywhere.
MARKER = "visible-marker-3e9d"
#: Seqs per cycle of :func:`plan`.
CYCLE = 10

#: Secrets the canary child records; none of them may be found anywhere afterwards.
SECRETS = {
    "api_key": "sk-canary-7f3a9c",
    "signature": "c4n4rysig0123456789abcdef",
    "bearer": "c4n4ry-bearer.jwt.token",
    "secret": "CANARY-SECRET-456",
    "password": "CANARY-PASS",
}


def plan(cycles: int) -> list[int | None]:
    """The seq each call of the kill9 workload makes durable, call by call (``None``: a span's
    start, which takes a seq but writes nothing; the span is written when it ends, after its
    children, so seq order differs from spool and file order)."""
    steps: list[int | None] = []
    for cycle in range(cycles):
        b = cycle * CYCLE
        # event, fill, decision, update, span(start), decision, fill, event, span(end), event, order
        steps += [b + 1, b + 2, b + 3, b + 4, None, b + 6, b + 7, b + 8, b + 5, b + 9, b + 10]
    return steps


def kill9_recorder(directory: str | Path, run_id: str, **settings: Any) -> tt.Recorder:
    """The Recorder of the kill9 workload (the test restarts with the same settings)."""
    return tt.Recorder(
        service_name=SERVICE, exporters=KILL9_EXPORTERS, directory=directory,
        durability="spool", run_id=run_id, handle_signals=False, **settings,
    )  # fmt: skip


def _progress(path: str) -> tuple[mmap.mmap, Any]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.ftruncate(fd, mmap.PAGESIZE)
    mapped = mmap.mmap(fd, mmap.PAGESIZE)
    os.close(fd)
    return mapped, ctypes.c_uint64.from_buffer(mapped)  # offset 0: one aligned 8-byte store


def kill9(directory: str, run_id: str, progress_path: str, cycles: int) -> None:
    mapped, progress = _progress(progress_path)
    rec = kill9_recorder(directory, run_id)
    expected = plan(cycles)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    done = 0

    def returned(seq: int | None) -> None:
        nonlocal done
        if seq != expected[done]:
            sys.stderr.write(f"call {done} returned seq {seq}, the plan says {expected[done]}\n")
            os._exit(3)
        done += 1
        progress.value = done

    for cycle in range(cycles):
        tick = rec.record_event("TICK", venue="BINANCE", amount=cycle)
        returned(tick)
        returned(rec.record_fill(symbol="BTC-USDT", side="BUY", price="50000.5",
                                 quantity="0.01", fee="0.02", fee_currency="USDT",
                                 trade_id=f"t{cycle}"))  # fmt: skip
        returned(rec.record_decision("quote", inputs={"mid": cycle}, result={"bid_spread": 1}))
        returned(rec.update_event(tick, "submitted"))
        with rec.span("rebalance", cycle=cycle) as span:
            done += 1  # the span's start: its seq is taken, nothing is written
            progress.value = done
            returned(rec.record_decision("target", inputs={"cycle": cycle}, result=0.5))
            returned(rec.record_fill(symbol="ETH-USDT", side="SELL", price="3000.25",
                                     quantity="0.1"))  # fmt: skip
            returned(rec.record_event("REBALANCE_EXECUTED", venue="BINANCE", amount="1.5"))
        returned(span.seq)
        returned(rec.record_event("PRICE_UPDATE", venue="BINANCE", amount=f"{cycle}.5"))
        returned(rec.record_order("submit", symbol="BTC-USDT", side="SELL", price="50001",
                                  quantity="0.01", order_id=f"o{cycle}"))  # fmt: skip
    result = rec.shutdown(60)
    progress.value = done + 1
    mapped.flush()
    sys.stdout.write(f"shutdown {result}\n")
    sys.stdout.flush()


class PoisonIntolerant:
    """An exporter that raises on every batch holding the poison record (it gets quarantined)."""

    name = "picky"
    durable_on_export = True

    def __init__(self) -> None:
        self.records: list[Record] = []

    def open(self, run: Any) -> None:
        return None

    def export(self, batch: Sequence[Record]) -> ExportResult:
        if any(record.name == POISON for record in batch):
            raise RuntimeError(f"cannot digest {POISON}")
        self.records.extend(batch)
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float) -> bool:
        return True

    def shutdown(self, timeout: float) -> None:
        return None

    def after_fork(self) -> None:
        return None


def record_secrets(rec: tt.Recorder, round_: int) -> None:
    """One of each way a secret reaches tradetrace: keywords, nested inputs, free text."""
    s = SECRETS
    url = (f"https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1&"
           f"signature={s['signature']}")  # fmt: skip
    rec.record_fill(symbol="BTC-USDT", side="BUY", price="50000", quantity="0.01",
                    api_key=s["api_key"], notes=f"{MARKER} round {round_}")  # fmt: skip
    rec.record_decision(
        "quote", inputs={"apiKey": s["api_key"], "params": {"signature": s["signature"]}},
        result={"auth_token": s["bearer"]}, reason=f"Authorization: Bearer {s['bearer']}",
    )  # fmt: skip
    rec.record_error("http_error", message=f"GET {url} failed", url=url,
                     headers={"Authorization": f"Bearer {s['bearer']}"})  # fmt: skip
    rec.record_event("DEPOSIT", venue="BINANCE", amount=1, secret=s["secret"],
                     credentials={"apiKey": s["api_key"], "secret": s["secret"],
                                  "password": s["password"]})  # fmt: skip
    with rec.span("rebalance", passphrase=s["password"], request=url):
        rec.record_event("FLASH_BORROW", amount="1", note=f"{{'secret': '{s['secret']}'}}")
    try:
        raise ConnectionError(f"binance GET {url} -> 401 with X-MBX-APIKEY: {s['api_key']}")
    except ConnectionError as exc:
        rec.record_error("network", exception=exc)


def canary(directory: str, otlp_url: str) -> None:
    from tradetrace.exporters.otlp import OtlpExporter

    otlp = OtlpExporter(otlp_url, timeout=2, metrics=False)
    picky = PoisonIntolerant()
    rec = tt.Recorder(
        service_name=CANARY_SERVICE, directory=directory, durability="spool",
        exporters=("csv", "jsonl", "duckdb", "parquet", otlp, picky), handle_signals=False,
    )  # fmt: skip
    for round_ in range(20):
        record_secrets(rec, round_)
    rec.record_event(POISON, venue="BINANCE", api_key=SECRETS["api_key"])
    record_secrets(rec, 20)  # the record after the poison tells it from an outage
    if not rec.flush(30):
        sys.stderr.write(f"flush failed: {rec.health()}\n")
        os._exit(4)
    for round_ in range(21, 40):  # still in the spool, maybe not delivered, at the kill
        record_secrets(rec, round_)
    quarantine = rec.directory / "spool" / CANARY_SERVICE / f"quarantine.{picky.name}.jsonl"
    sys.stdout.write(f"quarantined {quarantine.exists()} {rec.health()['exporters']}\n")
    sys.stdout.flush()
    time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command == "kill9":
        kill9(arguments[0], arguments[1], arguments[2], int(arguments[3]))
    elif command == "canary":
        canary(arguments[0], arguments[1])
    else:
        raise SystemExit(f"unknown command {command!r}")
