"""Durable mode end to end: kill -9, corrupt spool tails, a 30 s OTLP outage, exporter faults,
fork, and secrets over every file on disk. Real processes, files, sockets and devices.

Every test prints its figures (run with ``-s``). ``TRADETRACE_KILL_TRIALS`` (default 20) sets
the number of kill -9 trials and ``TRADETRACE_KILL_SEED`` their seed (printed either way).
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import mmap
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

import tradetrace as tt
from tradetrace.exporters.base import ExportResult
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.pipeline.durable import POISON_ATTEMPTS
from tradetrace.pipeline.spool import MAGIC, iter_frames
from tradetrace.pipeline.spool_codec import decode
from tradetrace.records import Record

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "exporters"))  # the OTLP test receiver

import durability_child as child  # noqa: E402
from otlp_receiver import OtlpHttpReceiver, attributes  # noqa: E402

CHILD = str(HERE / "durability_child.py")


# --- reading what the exporters wrote --------------------------------------------------------


def csv_seqs(directory: Path, service: str, run_id: str) -> list[int]:
    """Every seq of ``run_id`` in the CSV files (duplicates kept), read with the csv module."""
    seqs: list[int] = []
    for path in sorted((directory / "csv").glob(f"{service}_*.csv")):
        if path.name == f"{service}_runs.csv":
            continue
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            header = next(reader)
            run_at, seq_at = header.index("run_id"), header.index("seq")
            seqs += [int(row[seq_at]) for row in reader if row[run_at] == run_id]
    return seqs


def jsonl_seqs(directory: Path, service: str, run_id: str) -> list[int]:
    """Every seq of ``run_id`` in the JSON Lines files (duplicates kept), parsed with orjson."""
    seqs: list[int] = []
    for path in sorted((directory / "json").glob(f"{service}_*.jsonl")):
        if path.name == f"{service}_runs.jsonl":
            continue
        with open(path, "rb") as file:
            for line in file:
                item = orjson.loads(line)
                if item["run_id"] == run_id:
                    seqs.append(item["seq"])
    return seqs


def duckdb_seqs(path: Path, run_id: str) -> list[int]:
    with duckdb.connect(str(path), read_only=True) as db:
        rows = db.execute("SELECT seq FROM records WHERE run_id = ?", [run_id]).fetchall()
    return [seq for (seq,) in rows]


def sink_seqs(directory: Path, service: str, run_id: str) -> dict[str, list[int]]:
    return {
        "csv": csv_seqs(directory, service, run_id),
        "jsonl": jsonl_seqs(directory, service, run_id),
        "duckdb": duckdb_seqs(directory / "tradetrace.duckdb", run_id),
    }


def duplicates(seqs: Sequence[int]) -> int:
    return len(seqs) - len(set(seqs))


def exactly_once(seqs: Sequence[int], expected: set[int]) -> str | None:
    """None if ``seqs`` holds each of ``expected`` once and nothing else, else what is wrong."""
    counts = Counter(seqs)
    lost = sorted(expected - counts.keys())
    twice = sorted(s for s, n in counts.items() if n > 1)
    extra = sorted(counts.keys() - expected)
    if lost or twice or extra:
        return f"lost {lost[:10]} ({len(lost)}), twice {twice[:10]} ({len(twice)}), " \
               f"unexpected {extra[:10]} ({len(extra)})"  # fmt: skip
    return None


def exporter_errors(rec: tt.Recorder) -> dict[str, int]:
    return {k: n for k, n in rec.health()["internal_errors"].items()
            if k.startswith(("exporter_", "spool_lane", "spool_read", "spool_decode"))}  # fmt: skip


def percentile(values: Sequence[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6  # ms


def new_recorder(directory: Path, service: str, exporters: Sequence[Any], **settings: Any
                 ) -> tt.Recorder:  # fmt: skip
    settings.setdefault("handle_signals", False)
    return tt.Recorder(service_name=service, exporters=tuple(exporters), directory=directory,
                       **settings)  # fmt: skip


class Gate:
    """Wraps an exporter. While ``opened`` is clear, export waits (a stalled sink); once
    ``crashed`` it fails without writing anything (the process died before that write)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.durable_on_export = getattr(inner, "durable_on_export", False)
        self.opened = threading.Event()
        self.opened.set()
        self.crashed = False
        self.waiting = threading.Event()

    def open(self, run: Any) -> None:
        self.inner.open(run)

    def export(self, batch: Sequence[Record]) -> ExportResult:
        if not self.opened.is_set():
            self.waiting.set()
            self.opened.wait()
        if self.crashed:
            return ExportResult.FAILURE
        return self.inner.export(batch)

    def force_flush(self, timeout: float) -> bool:
        return False if self.crashed else self.inner.force_flush(timeout)

    def shutdown(self, timeout: float) -> None:
        if not self.crashed:
            self.inner.shutdown(timeout)

    def recover(self, replayed: Sequence[Record]) -> Sequence[Record]:
        return self.inner.recover(replayed)

    def after_fork(self) -> None:
        self.opened = threading.Event()
        self.opened.set()  # the child's own records are not held back
        self.inner.after_fork()


# --- 1. kill -9 ------------------------------------------------------------------------------

KILL_CYCLES = 10_000  # 100 000 records: events, fills, decisions, updates, orders, spans


def _kill_moment(trial: int, rng: random.Random, calls: int) -> tuple[str, float]:
    """Where trial ``trial`` kills the child: a call count, or seconds into its shutdown."""
    phase = ("early", "steady", "steady", "late", "shutdown")[trial % 5]
    if phase == "early":  # before the lanes' first export, most of the time
        return phase, rng.randrange(0, 3_000)
    if phase == "late":
        return phase, rng.randrange(calls - 3_000, calls)
    if phase == "shutdown":
        return phase, rng.uniform(0.0, 0.3)
    return phase, rng.randrange(0, calls)


def _run_until_killed(directory: Path, run_id: str, phase: str, moment: float, calls: int
                      ) -> tuple[int, int | None, float]:  # fmt: skip
    """Start the child, SIGKILL it at the moment; (calls returned, exit code, seconds alive)."""
    progress_path = directory / "progress"
    progress_path.write_bytes(bytes(mmap.PAGESIZE))
    with open(progress_path, "r+b") as file:
        mapped = mmap.mmap(file.fileno(), mmap.PAGESIZE)
    progress = ctypes.c_uint64.from_buffer(mapped)
    with open(directory / "child.err", "wb") as err:
        process = subprocess.Popen(
            [sys.executable, CHILD, "kill9", str(directory), run_id, str(progress_path),
             str(KILL_CYCLES)], stdout=subprocess.PIPE, stderr=err,
        )  # fmt: skip
    assert process.stdout is not None
    ready = process.stdout.readline()
    assert ready == b"ready\n", (ready, (directory / "child.err").read_text())
    started = time.monotonic()
    target = calls if phase == "shutdown" else int(moment)
    while progress.value < target and process.poll() is None:
        time.sleep(0.0002)
    if phase == "shutdown":
        time.sleep(moment)
    process.send_signal(signal.SIGKILL)  # nothing if it has exited already
    code = process.wait()
    alive = time.monotonic() - started
    returned = progress.value
    del progress
    mapped.close()
    process.stdout.close()
    return returned, code, alive


def open_span(steps: Sequence[int | None], returned: int) -> int | None:
    """The seq of the span begun and not ended by the first ``returned`` calls (the kill point:
    its children may be written, the span itself cannot be yet)."""
    for start in range(returned - 1, max(-1, returned - 6), -1):
        if steps[start] is None:  # the span's start; its end is the fourth call after it
            return steps[start + 4] if start + 4 >= returned else None
    return None


def test_kill9_at_a_random_moment_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    trials = int(os.environ.get("TRADETRACE_KILL_TRIALS", "20"))
    seed = int(os.environ.get("TRADETRACE_KILL_SEED") or random.SystemRandom().randrange(1 << 31))
    rng = random.Random(seed)
    steps = child.plan(KILL_CYCLES)
    calls = len(steps)
    print(f"\nkill -9: {trials} trials, seed {seed} (TRADETRACE_KILL_SEED), "
          f"{KILL_CYCLES * child.CYCLE} records in {calls} calls per child")  # fmt: skip
    failures: list[str] = []
    checked = lost = duplicated = killed = 0
    restart_times: list[float] = []
    for trial in range(trials):
        directory = tmp_path / f"trial{trial:03d}"
        directory.mkdir()
        run_id = f"killed-{trial}"
        phase, moment = _kill_moment(trial, rng, calls)
        returned, code, alive = _run_until_killed(directory, run_id, phase, moment, calls)
        if code not in (-signal.SIGKILL, 0):
            failures.append(f"trial {trial}: child exit {code}: "
                            f"{(directory / 'child.err').read_text()[-2000:]}")  # fmt: skip
            continue
        killed += code == -signal.SIGKILL
        exported_before = sum(p.stat().st_size for p in (directory / "csv").glob("*_*s_*.csv"))
        began = time.perf_counter()
        rec = child.kill9_recorder(directory, f"restart-{trial}")
        recovered = rec.health()["spool"]["recovered"]
        result = rec.shutdown(60)
        restart = time.perf_counter() - began
        restart_times.append(restart)
        errors = exporter_errors(rec)
        skipped = {name: c["skipped_on_recovery"] for name, c in rec.health()["exporters"].items()}
        done = [s for s in steps[:returned] if s is not None]
        expected = set(done)
        in_flight = steps[returned] if returned < calls else None
        span = open_span(steps, returned)
        found = sink_seqs(directory, child.SERVICE, run_id)
        verdicts = []
        for sink, seqs in found.items():
            present = set(seqs)
            extra = present - expected
            allowed = extra <= {in_flight}  # a call killed after its spool write, before return
            problem = exactly_once(seqs, expected | (extra if allowed else set()))
            checked += len(expected)
            lost += len(expected - present)
            duplicated += duplicates(seqs)
            verdicts.append(f"{sink} {len(seqs)}{'+' + str(len(extra)) if extra else ''}")
            if problem:
                failures.append(f"trial {trial} ({phase}, returned {returned}): {sink}: {problem}")
        report = tt.verify(directory / "tradetrace.duckdb")
        (run,) = [r for r in report.runs if r.run_id == run_id] or [None]
        verdict = "OK" if run is None or run.ok else "; ".join(run.lines()[1:])
        if run is not None:
            gap_seqs = {s for gap in run.gaps for s in range(gap.first, gap.last + 1)}
            if (gap_seqs - {span}) or run.duplicates or run.orphans or run.unknown_updates:
                failures.append(f"trial {trial}: verify:\n" + "\n".join(run.lines()))
            if span in gap_seqs and [u.seq for u in run.unfinished] != [span]:
                failures.append(f"trial {trial}: open span {span} not reported as unfinished:\n"
                                + "\n".join(run.lines()))  # fmt: skip
        elif expected:
            failures.append(f"trial {trial}: verify found no run {run_id}")
        if not result or errors:
            failures.append(f"trial {trial}: restart shutdown {result}, errors {errors}")
        logged = (directory / "child.err").read_text(errors="replace")
        if "internal failure" in logged:
            failures.append(f"trial {trial}: the child logged {logged[-2000:]}")
        leftover = sorted(p.name for p in (directory / "spool" / child.SERVICE).glob("*.seg"))
        if leftover:
            failures.append(f"trial {trial}: spool segments left after a clean restart: {leftover}")
        print(f"  trial {trial:2d} {phase:8s} kill at {moment:>9.3f}: exit {code}, alive "
              f"{alive:.2f}s, {returned:6d} calls returned ({len(expected)} records), "
              f"csv bytes before restart {exported_before}; recovered {recovered['records']} "
              f"(cut {recovered['discarded_records']}), skipped on recovery {skipped}; "
              f"restart {restart:.2f}s; {', '.join(verdicts)}; verify: {verdict}")  # fmt: skip
    mean_restart = statistics.mean(restart_times) if restart_times else 0.0
    print(f"kill -9 summary: {trials} trials ({killed} killed mid-run), {checked} records "
          f"checked over csv+jsonl+duckdb, lost {lost}, duplicated {duplicated}, mean restart "
          f"{mean_restart:.2f}s (max {max(restart_times, default=0):.2f}s), seed {seed}")
    assert not failures, "\n".join(failures)
    assert lost == 0 and duplicated == 0
    assert killed >= trials * 3 // 5  # the kill moments are spread over the recording


# --- 2. a corrupt spool tail, through the Recorder -------------------------------------------


def _crash_with_unexported_tail(directory: Path, service: str, first: int, second: int
                                ) -> list[int]:  # fmt: skip
    """Record ``first`` records (delivered and acknowledged), then ``second`` more that the
    exporters never get before the process dies (their sinks stall, then the process halts).
    Returns the seqs of the spool's frames, in spool order."""
    from tradetrace.exporters.registry import build_exporters

    inner = build_exporters(child.KILL9_EXPORTERS, directory=directory, service_name=service)
    gates = [Gate(exporter) for exporter in inner]
    rec = new_recorder(directory, service, gates, durability="spool", run_id="crashed")
    for i in range(first + second):
        if i == first:
            assert rec.flush(30)
            for gate in gates:
                gate.opened.clear()
        if i % 2:
            rec.record_fill(symbol="BTC-USDT", side="BUY", price=f"{50000 + i}.5", quantity="1")
        else:
            rec.record_event("TICK", venue="BINANCE", amount=i)
    for gate in gates:  # every lane holds a batch of the tail and waits at its sink
        assert gate.waiting.wait(5), gate.name
        gate.crashed = True
        gate.opened.set()
    rec._processor.halt()  # the process dies: nothing more is exported or acknowledged
    for exporter in inner:  # its files and database as a dead process leaves them
        exporter.shutdown(1)
    (segment,) = (directory / "spool" / service).glob("*.seg")
    return [decode(payload).seq for _, payload in iter_frames(segment.read_bytes(), len(MAGIC))]


@pytest.mark.parametrize("damage", ["torn_last_record", "flipped_byte", "zeroed_tail"])
def test_a_corrupt_spool_tail_is_cut_and_the_valid_prefix_delivered_once(
    tmp_path: Path, damage: str
) -> None:
    service, first, second = "corrupt", 3_000, 2_000
    order = _crash_with_unexported_tail(tmp_path, service, first, second)
    assert len(order) == first + second
    (segment,) = (tmp_path / "spool" / service).glob("*.seg")
    data = bytearray(segment.read_bytes())
    ends = [end for end, _ in iter_frames(data, len(MAGIC))]
    starts = [len(MAGIC), *ends[:-1]]
    if damage == "torn_last_record":  # a write cut short: only the last record is lost
        k = 1
        data = data[: starts[-1] + 8 + 20]
    elif damage == "flipped_byte":  # a bad sector in the fifth-last record
        k = 5
        data[starts[-k] + 8 + 3] ^= 0xFF
    else:  # power loss: the file's size was extended but its last pages never written
        k = 7
        data[starts[-k]:] = bytes(len(data) - starts[-k] + 4096)
    segment.write_bytes(bytes(data))
    cut_at = starts[-k]
    valid = set(order[:-k])

    rec = new_recorder(tmp_path, service, child.KILL9_EXPORTERS, durability="spool",
                       run_id="restart")  # fmt: skip
    recovered = rec.health()["spool"]["recovered"]
    result = rec.shutdown(30)
    health = rec.health()
    print(f"\n{damage}: {first} delivered + {second} in the spool only; recovered {recovered}; "
          f"exporters {health['exporters']}; errors {health['internal_errors']}")  # fmt: skip
    assert result, result
    assert recovered["records"] == len(order) - k
    assert recovered["discarded_bytes"] == len(data) - cut_at
    # a torn write or a run of zeros is one fragment; a flipped byte leaves k whole frames
    assert recovered["discarded_records"] == (k if damage == "flipped_byte" else 1)
    assert recovered["damaged_segments"] == [segment.name]
    assert health["internal_errors"].get("spool_damaged_tail") == 1
    assert all(c["quarantined"] == 0 for c in health["exporters"].values())
    assert exporter_errors(rec) == {}
    for sink, seqs in sink_seqs(tmp_path, service, "crashed").items():
        assert exactly_once(seqs, valid) is None, (sink, exactly_once(seqs, valid))
    print(f"{damage}: the {len(valid)} valid records are in csv, jsonl and duckdb once each; "
          f"the {k} damaged ones nowhere")  # fmt: skip


# --- 3. a 30 s OTLP outage at 1 000 records/s --------------------------------------------------


class StoppableReceiver(OtlpHttpReceiver):
    """The OTLP/HTTP test receiver, stopped for real: the listening socket and every kept-alive
    connection are closed, so the port refuses connections until a new one listens on it."""

    def __init__(self, port: int = 0, received: Any = None) -> None:
        super().__init__(port)
        if received is not None:
            self.received = received  # one tally across restarts
        self._connections: list[socket.socket] = []
        accept = self._server.get_request

        def get_request() -> tuple[socket.socket, Any]:
            connection, address = accept()
            self._connections.append(connection)
            return connection, address

        self._server.get_request = get_request  # type: ignore[method-assign]
        # a client cut off mid-request (the outage, a killed process) is expected: no traceback
        self._server.handle_error = lambda request, address: None  # type: ignore[method-assign]

    def stop(self) -> None:
        super().stop()
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_otlp_outage_of_30s_delivers_everything_and_recording_stays_under_1ms(
    tmp_path: Path,
) -> None:
    from tradetrace.exporters.otlp import OtlpExporter

    rate = 1_000
    up, down, after = 5.0, float(os.environ.get("TRADETRACE_OUTAGE_SECONDS", "30")), 5.0
    receiver = StoppableReceiver().start()
    port, received = receiver.port, receiver.received
    receivers = [receiver]
    otlp = OtlpExporter(receiver.url, timeout=1.0, metrics=False)
    rec = new_recorder(tmp_path, "outage", (otlp, "duckdb"), durability="spool", run_id="outage")
    events: dict[str, float] = {}

    def outage() -> None:
        time.sleep(up)
        receivers[0].stop()
        events["stopped"] = time.monotonic()
        events["refused"] = _refused(port)
        time.sleep(down)
        receivers.append(StoppableReceiver(port, received).start())
        events["restarted"] = time.monotonic()

    switch = threading.Thread(target=outage, daemon=True)
    latencies: list[int] = []
    phases: list[int] = []  # 0 before, 1 during, 2 after the outage
    clock = time.perf_counter_ns
    began = time.monotonic()
    switch.start()
    total = int((up + down + after) * rate)
    for i in range(total):
        due = began + i / rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        phase = 0 if "stopped" not in events else 1 if "restarted" not in events else 2
        start = clock()
        if i % 4 == 0:
            rec.record_fill(symbol="BTC-USDT", side="BUY", price="50000.5", quantity="0.01")
        elif i % 4 == 1:
            rec.record_decision("quote", inputs={"mid": i}, result={"bid_spread": "0.001"})
        else:
            rec.record_event("PRICE_UPDATE", venue="BINANCE", amount=i)
        latencies.append(clock() - start)
        phases.append(phase)
    recorded_for = time.monotonic() - began
    switch.join(5)
    last_of_outage = max(i for i, p in enumerate(phases) if p == 1) + 1  # seq = call index + 1
    lanes_during = rec.health()["exporters"]
    flushed = rec.flush(120)
    health = rec.health()
    result = rec.shutdown(30)
    for server in receivers[1:]:
        server.stop()
    seqs = received.seqs()
    counts = Counter(seqs)
    backlog_delivered = max(  # arrival of the last request holding a record of the outage
        request.at for request in received.requests
        if request.signal == "logs" and request.status == 200 and any(
            attributes(log.attributes)["trading.seq"] <= last_of_outage
            for rl in request.message.resource_logs for sl in rl.scope_logs
            for log in sl.log_records)
    )  # fmt: skip
    expected = set(range(1, total + 1))
    print(f"\noutage: {total} records at {rate}/s over {recorded_for:.1f}s; receiver down "
          f"{events['restarted'] - events['stopped']:.1f}s (port refused: {events['refused']})")
    for name, code in (("before", 0), ("during", 1), ("after", 2), ("all", None)):
        values = [v for v, p in zip(latencies, phases, strict=True) if code is None or p == code]
        print(f"  record call latency {name:6s}: n={len(values):6d} p50 "
              f"{percentile(values, 0.5):.3f} ms, p99 {percentile(values, 0.99):.3f} ms, "
              f"p99.9 {percentile(values, 0.999):.3f} ms, max {max(values) / 1e6:.3f} ms")
    print(f"  otlp lane at the end of recording: {lanes_during['otlp']}")
    print(f"  the outage's {last_of_outage - int(up * rate)} records reached the receiver "
          f"{backlog_delivered - events['restarted']:.1f}s after it came back; flush {flushed}; "
          f"otlp {health['exporters']['otlp']}; received {len(seqs)} items, {len(counts)} distinct "
          f"seqs, {sum(n - 1 for n in counts.values())} duplicates (at-least-once); "
          f"otlp counters {otlp.counters()['signals']['logs']}")  # fmt: skip
    assert events["refused"]
    assert not [r for r in received.requests if events["stopped"] < r.at < events["restarted"]]
    assert flushed and result, (flushed, result)
    assert set(counts) == expected, f"missing {sorted(expected - set(counts))[:20]}"
    assert health["exporters"]["otlp"]["failed"] > 0  # the outage was seen...
    assert health["dropped"] == 0  # ...and nothing was dropped for it
    assert exactly_once(duckdb_seqs(tmp_path / "tradetrace.duckdb", "outage"), expected) is None
    for name, code in (("before", 0), ("during", 1), ("after", 2)):
        values = [v for v, p in zip(latencies, phases, strict=True) if p == code]
        assert percentile(values, 0.99) < 1.0, f"p99 {name} the outage"


# --- 4. exporter faults: 10 000 exceptions, a full disk, a poison record ----------------------


class Faulty:
    """An exporter that raises while ``failing(batch)`` says so, else keeps the batch."""

    name = "faulty"
    durable_on_export = True
    KINDS: tuple[Callable[[str], BaseException], ...] = (
        RuntimeError, ValueError, KeyError, TypeError, ZeroDivisionError, MemoryError,
        lambda text: OSError(errno.EIO, text),
    )  # fmt: skip

    def __init__(self, failing: Callable[[Sequence[Record]], BaseException | None]) -> None:
        self.failing = failing
        self.raised = 0
        self.records: list[Record] = []

    def open(self, run: Any) -> None:
        return None

    def export(self, batch: Sequence[Record]) -> ExportResult:
        error = self.failing(batch)
        if error is not None:
            self.raised += 1
            raise error
        self.records.extend(batch)
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float) -> bool:
        return True

    def shutdown(self, timeout: float) -> None:
        return None

    def after_fork(self) -> None:
        return None


def fill_disk_under(folder: Path) -> int:
    """Point every file open for appending under ``folder`` at /dev/full: from now on each
    write to it fails with a real ENOSPC from the kernel. Returns how many were redirected."""
    full = os.open("/dev/full", os.O_WRONLY)
    redirected = 0
    try:
        for name in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{name}")
                with open(f"/proc/self/fdinfo/{name}") as info:
                    flags = int(info.read().split("flags:")[1].split()[0], 8)
            except (OSError, IndexError):
                continue
            if target.startswith(f"{folder}/") and flags & os.O_APPEND and (
                flags & os.O_ACCMODE == os.O_WRONLY
            ):
                os.dup2(full, int(name))
                redirected += 1
    finally:
        os.close(full)
    return redirected


class DiskFull:
    """Wraps the CSV exporter: for the next ``faults`` export calls the disk under its files is
    full (see :func:`fill_disk_under`). ``partial`` rows of the first failing batch reach the
    file before the disk fills (a batch cut mid-way, as a large write is)."""

    def __init__(self, inner: Any, faults: int = 0, partial: int = 0) -> None:
        from tradetrace.exporters.rows import DayName

        self.inner = inner
        self.name = inner.name
        self.durable_on_export = True
        self.faults = faults
        self.partial = partial
        self.failed_calls = 0
        self.redirected = 0
        self._day = DayName()

    def open(self, run: Any) -> None:
        self.inner.open(run)

    def export(self, batch: Sequence[Record]) -> ExportResult:
        if self.faults <= 0 or not batch:
            return self.inner.export(batch)
        self.faults -= 1
        if self.partial and self.failed_calls == 0:
            self.inner.export(batch[: self.partial])
            batch = batch[self.partial :]
        for record in batch:  # the files this batch goes to are open: their disk fills up
            self.inner._files.get(record.kind, self._day(record.time_ns))
        self.redirected += fill_disk_under(self.inner.directory)
        self.failed_calls += 1
        return self.inner.export(batch)  # raises OSError(ENOSPC)

    def force_flush(self, timeout: float) -> bool:
        return self.inner.force_flush(timeout)

    def shutdown(self, timeout: float) -> None:
        self.inner.shutdown(timeout)

    def recover(self, replayed: Sequence[Record]) -> Sequence[Record]:
        return self.inner.recover(replayed)

    def after_fork(self) -> None:
        self.inner.after_fork()


needs_dev_full = pytest.mark.skipif(
    not os.path.exists("/dev/full") or not os.path.isdir("/proc/self/fdinfo"),
    reason="a real ENOSPC needs /dev/full and /proc/self/fdinfo (Linux)",
)


def _enospc_logged(caplog: pytest.LogCaptureFixture, kind: str) -> bool:
    """Whether the first failure of ``kind`` was logged with an ENOSPC OSError."""
    for entry in caplog.records:
        if f"[{kind}]" in entry.getMessage() and entry.exc_info:
            error = entry.exc_info[1]
            while error is not None:
                if isinstance(error, OSError) and error.errno == errno.ENOSPC:
                    return True
                error = error.__cause__ or error.__context__
    return False


def _fill_or_event(rec: tt.Recorder, i: int) -> int:
    if i % 3 == 0:
        return rec.record_fill(symbol="BTC-USDT", side="BUY", price=f"{50000 + i}.5",
                               quantity="0.01", notes="x" * 64)  # fmt: skip
    return rec.record_event("TICK", venue="BINANCE", amount=i, note="y" * 64)


@needs_dev_full
def test_10000_exceptions_and_enospc_in_memory_mode_reach_no_caller_and_lose_nothing_else(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tradetrace.exporters.csv import CsvExporter

    kinds = Faulty.KINDS
    faulty = [Faulty(lambda batch, n=n: kinds[n % len(kinds)](f"injected fault in lane {n}"))
              for n in range(20)]  # fmt: skip
    memory = MemoryExporter()
    csv_exporter = DiskFull(CsvExporter(tmp_path / "csv", "faults"))
    rec = new_recorder(tmp_path, "faults", (*faulty, memory, "jsonl", "duckdb", csv_exporter),
                       batch_size=16, schedule_delay=0.005, run_id="faults")  # fmt: skip
    caplog.set_level("WARNING", logger="tradetrace")
    began = time.monotonic()
    n = 0
    while sum(f.raised for f in faulty) < 10_000:
        _fill_or_event(rec, n)
        n += 1
        if n == 200:
            assert rec.flush(10)  # the CSV file is open and written: now its disk fills up
            csv_exporter.faults = 1 << 60
        if n % 16 == 0:
            time.sleep(0.0005)
    recorded_for = time.monotonic() - began
    result = rec.shutdown(60)
    health = rec.health()
    raised = sum(f.raised for f in faulty)
    counted = sum(c for k, c in health["internal_errors"].items()
                  if k.startswith("exporter_export:faulty"))  # fmt: skip
    csv_rows = len(csv_seqs(tmp_path, "faults", "faults"))
    print(f"\nmemory mode: {n} records in {recorded_for:.1f}s; {raised} exceptions raised by "
          f"{len(faulty)} faulty exporters ({counted} counted), none reached the caller; "
          f"csv: ENOSPC on {csv_exporter.failed_calls} batches ({csv_exporter.redirected} "
          f"descriptors on /dev/full), {csv_rows} rows written before the disk filled; "
          f"shutdown {result}; lanes "
          f"{ {k: v for k, v in health['exporters'].items() if not k.startswith('faulty')} }")
    assert raised >= 10_000 and counted == raised
    assert _enospc_logged(caplog, "exporter_export:csv"), "no ENOSPC from the CSV writer"
    assert csv_exporter.failed_calls > 0 and health["exporters"]["csv"]["failed"] > 0
    assert health["dropped"] == 0
    expected = set(range(1, n + 1))
    assert exactly_once([r.seq for r in memory.records], expected) is None
    assert exactly_once(jsonl_seqs(tmp_path, "faults", "faults"), expected) is None
    assert exactly_once(duckdb_seqs(tmp_path / "tradetrace.duckdb", "faults"), expected) is None
    assert all(health["exporters"][name]["failed"] == 0 for name in ("memory", "jsonl", "duckdb"))


def _poison_run(tmp_path: Path, faulty: Faulty, csv_exporter: Any, total: int = 10_000,
                poison_at: int = 4_000) -> tuple[tt.Recorder, MemoryExporter, int]:  # fmt: skip
    memory = MemoryExporter()
    rec = new_recorder(tmp_path, "faults", (faulty, memory, "jsonl", "duckdb", csv_exporter),
                       durability="spool", run_id="faults")  # fmt: skip
    poison = 0
    for i in range(total):
        if i == poison_at:
            poison = rec.record_event(child.POISON, venue="BINANCE")
        else:
            _fill_or_event(rec, i)
        if i % 100 == 0:
            time.sleep(0.025)  # 10 000 records over 2.5 s
    return rec, memory, poison


@needs_dev_full
def test_exporter_outage_enospc_and_a_poison_record_in_spool_mode_lose_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tradetrace.exporters.csv import CsvExporter

    caplog.set_level("WARNING", logger="tradetrace")
    outage_until = time.monotonic() + 1.5

    def failing(batch: Sequence[Record]) -> BaseException | None:
        if any(record.name == child.POISON for record in batch):
            return RuntimeError("cannot digest this record")
        if time.monotonic() < outage_until:
            return ConnectionError("backend down")
        return None

    faulty = Faulty(failing)
    csv_exporter = DiskFull(CsvExporter(tmp_path / "csv", "faults"))
    rec, memory, poison = _poison_run(tmp_path, faulty, csv_exporter, poison_at=200)
    csv_exporter.faults = 8  # the disk fills up while the recording goes on
    for i in range(2_000):
        _fill_or_event(rec, i)
    result = rec.flush(60)
    health = rec.health()
    total = health["spool"]["appended"]
    assert rec.shutdown(30)
    quarantine = tmp_path / "spool" / "faults" / "quarantine.faulty.jsonl"
    set_aside = [decode(line.rstrip(b"\n")) for line in quarantine.read_bytes().splitlines()]
    lanes = health["exporters"]
    print(f"\nspool mode: {total} records; faulty exporter: {faulty.raised} exceptions "
          f"(outage, then poison #{poison}) -> {lanes['faulty']}; csv: ENOSPC on "
          f"{csv_exporter.failed_calls} attempts -> {lanes['csv']}; quarantined "
          f"{[r.seq for r in set_aside]}; flush {result}; errors {health['internal_errors']}")
    assert result, result
    expected = set(range(1, total + 1))
    assert [r.seq for r in set_aside] == [poison] and set_aside[0].name == child.POISON
    assert lanes["faulty"]["quarantined"] == 1 and lanes["faulty"]["failed"] > 0
    assert exactly_once([r.seq for r in faulty.records], expected - {poison}) is None
    assert csv_exporter.failed_calls > 0 and lanes["csv"]["retries"] > 0
    assert _enospc_logged(caplog, "exporter_export:csv"), "no ENOSPC from the CSV writer"
    assert exactly_once(csv_seqs(tmp_path, "faults", "faults"), expected) is None
    assert exactly_once([r.seq for r in memory.records], expected) is None
    assert exactly_once(jsonl_seqs(tmp_path, "faults", "faults"), expected) is None
    assert exactly_once(duckdb_seqs(tmp_path / "tradetrace.duckdb", "faults"), expected) is None
    assert health["dropped"] == 0


@needs_dev_full
def test_csv_disk_full_mid_batch_writes_no_row_twice_in_spool_mode(tmp_path: Path) -> None:
    from tradetrace.exporters.csv import CsvExporter

    csv_exporter = DiskFull(CsvExporter(tmp_path / "csv", "faults"), partial=100)
    rec = new_recorder(tmp_path, "faults", (csv_exporter,), durability="spool", run_id="faults",
                       batch_size=105)  # 100 rows reach the file, 5 are left in its buffer
    for i in range(600):
        _fill_or_event(rec, i)
    assert rec.flush(10)
    csv_exporter.faults = 1
    for i in range(600):
        _fill_or_event(rec, i)
    assert rec.shutdown(30)
    seqs = csv_seqs(tmp_path, "faults", "faults")
    print(f"\ndisk full after 100 rows of a batch: {len(seqs)} rows, {len(set(seqs))} seqs, "
          f"{duplicates(seqs)} written twice; {rec.health()['internal_errors']}")
    assert exactly_once(seqs, set(range(1, 1201))) is None


def test_a_transient_exception_is_retried_not_quarantined_in_spool_mode(tmp_path: Path) -> None:
    until = time.monotonic() + 1.5
    faulty = Faulty(lambda batch: RuntimeError("HTTP 500") if time.monotonic() < until else None)
    rec = new_recorder(tmp_path, "faults", (faulty,), durability="spool", run_id="faults")
    for i in range(3_000):
        rec.record_event("TICK", amount=i)
        if i % 100 == 0:
            time.sleep(0.05)
    assert rec.shutdown(30)
    lane = rec.health()["exporters"]["faulty"]
    print(f"\n{POISON_ATTEMPTS} raises in a row = poison: a 1.5 s fault -> {lane}")
    assert lane["quarantined"] == 0
    assert exactly_once([r.seq for r in faulty.records], set(range(1, 3001))) is None


# --- 5. fork with 1 000 buffered records -------------------------------------------------------


def _in_forked_child(rec: tt.Recorder, report: int) -> None:
    """The forked child: record a few of its own, flush them, report, leave at once."""
    try:
        seqs = [rec.record_event("CHILD_WORK", venue="BINANCE", amount=i) for i in range(5)]
        result = rec.shutdown(15)
        memory = next(getattr(e, "inner", e) for e in rec.exporters
                      if isinstance(getattr(e, "inner", e), MemoryExporter))  # fmt: skip
        os.write(report, orjson.dumps({
            "pid": os.getpid(), "run_id": rec.run_id, "seqs": seqs, "shutdown": str(result),
            "memory": [[r.run_id, r.seq] for r in memory.records],
            "errors": rec.health()["internal_errors"],
        }))  # fmt: skip
        os.close(report)
    except BaseException as exc:  # anything at all: say so, never run the parent's code
        with contextlib.suppress(BaseException):
            os.write(report, orjson.dumps({"error": repr(exc)}))
        os._exit(2)
    os._exit(0)


@pytest.mark.parametrize("durability", ["memory", "spool"])
def test_a_fork_with_1000_buffered_records_re_exports_none_of_them(
    tmp_path: Path, durability: str
) -> None:
    from tradetrace.exporters.registry import build_exporters

    service = f"fork-{durability}"
    memory = MemoryExporter()
    exporters = [*build_exporters(child.KILL9_EXPORTERS, directory=tmp_path,
                                  service_name=service), memory]  # fmt: skip
    if durability == "memory":  # held in the queue: no batch is due for a minute
        settings: dict[str, Any] = {"schedule_delay": 60, "batch_size": 100_000}
        gates: list[Gate] = []
    else:  # in the spool, unacknowledged: every exporter's lane waits at its sink
        settings = {}
        gates = [Gate(exporter) for exporter in exporters]
        for gate in gates:
            gate.opened.clear()
        exporters = gates  # type: ignore[assignment]
    rec = new_recorder(tmp_path, service, exporters, durability=durability, run_id="parent",
                       **settings)  # fmt: skip
    for i in range(1_000):
        _fill_or_event(rec, i)
    for gate in gates:
        assert gate.waiting.wait(5)
    buffered = rec.health()["queue_depth"]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _in_forked_child(rec, write)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        report = orjson.loads(pipe.read() or b"{}")
    _, status = os.waitpid(pid, 0)
    for gate in gates:
        gate.opened.set()
    result = rec.shutdown(30)
    child_run = f"parent-fork{pid}"
    found = sink_seqs(tmp_path, service, "parent")
    found_child = sink_seqs(tmp_path, service, child_run)
    parents_in_child_spool = [
        decode(line).run_id for path in (tmp_path / "spool").rglob("quarantine.*.jsonl")
        for line in path.read_bytes().splitlines()
        if decode(line).run_id == "parent"
    ]  # fmt: skip
    print(f"\n{durability}: {buffered} records buffered at the fork; child {report.get('pid')} "
          f"({report.get('run_id')}) recorded {report.get('seqs')}, shutdown "
          f"{report.get('shutdown')}, errors {report.get('errors')}; parent shutdown {result}; "
          f"parent run: { {k: len(v) for k, v in found.items()} }, child run: "
          f"{ {k: len(v) for k, v in found_child.items()} }")  # fmt: skip
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, report)
    assert report["run_id"] == child_run and report["seqs"] == [1, 2, 3, 4, 5]
    assert buffered == 1_000
    assert result, result
    parent_seqs = set(range(1, 1_001))
    for sink, seqs in found.items():
        assert exactly_once(seqs, parent_seqs) is None, (sink, exactly_once(seqs, parent_seqs))
    assert exactly_once([r.seq for r in memory.records], parent_seqs) is None
    assert {r.run_id for r in memory.records} == {"parent"}
    assert report["memory"] == [[child_run, s] for s in range(1, 6)]  # the child's memory: its own
    for sink in ("csv", "jsonl"):  # the child's records, in the same files, once
        assert exactly_once(found_child[sink], {1, 2, 3, 4, 5}) is None, sink
    assert found_child["duckdb"] == []  # by design a forked child cannot write the parent's file
    assert parents_in_child_spool == []


# --- 6. secrets: none in any file on disk, spool included, nor on the wire ---------------------


def _everything_under(directory: Path) -> Iterator[tuple[Path, bytes]]:
    """Every file's bytes, plus the decoded rows of DuckDB and Parquet files (which compress)."""
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        yield path, path.read_bytes()
        if path.name.startswith("checkpoint."):  # the spool's, named after the exporter
            continue
        if path.suffix == ".parquet":
            yield path, repr(duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()
                             ).encode()  # fmt: skip
        elif path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as db:
                for (table,) in db.sql("SELECT table_name FROM duckdb_tables()").fetchall():
                    yield path, repr(db.sql(f'SELECT * FROM "{table}"').fetchall()).encode()


def test_no_secret_reaches_any_file_or_the_wire_even_in_the_spool_of_a_killed_process(
    tmp_path: Path,
) -> None:
    receiver = StoppableReceiver().start()
    try:
        done = subprocess.run([sys.executable, CHILD, "canary", str(tmp_path), receiver.url],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        receiver.stop()
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    spool = tmp_path / "spool" / child.CANARY_SERVICE
    segments = list(spool.glob("*.seg"))
    in_spool = [decode(p) for s in segments for _, p in iter_frames(s.read_bytes(), len(MAGIC))]
    files = list(_everything_under(tmp_path))
    kinds = {p.suffix or p.name.split(".")[0] for p, _ in files}
    wire = [r.message.SerializeToString() for r in receiver.received.requests]
    wire_text = repr([attributes(log.attributes) for _, log in receiver.received.logs()]
                     + [attributes(span.attributes) for _, span in receiver.received.spans()])
    canaries = list(child.SECRETS.values())
    hits = [(str(path.relative_to(tmp_path)), canary) for path, data in files
            for canary in canaries if canary.encode() in data]  # fmt: skip
    hits += [("otlp payload", c) for c in canaries if any(c.encode() in m for m in wire)]
    hits += [("otlp attributes", c) for c in canaries if c in wire_text]
    print(f"\ncanary: child killed ({done.stdout.strip()}); {len(files)} files/tables scanned "
          f"({sorted(kinds)}), {len(in_spool)} records still in {len(segments)} spool "
          f"segment(s), {len(wire)} OTLP requests, {len(receiver.received.logs())} log records; "
          f"{len(canaries)} canaries -> {len(hits)} hits")  # fmt: skip
    marked = {p.suffix for p, data in files if child.MARKER.encode() in data}
    assert {".seg", ".csv", ".jsonl", ".duckdb", ".parquet"} <= marked  # the scan sees content
    assert any(child.MARKER.encode() in m for m in wire)
    assert any(p.name.startswith("checkpoint.") for p, _ in files)
    assert any(p.name == "quarantine.picky.jsonl" for p, _ in files)  # the poison, set aside
    assert len(in_spool) >= 40 * 7  # the kill left the records in the spool
    assert len(receiver.received.logs()) > 0
    assert any("[REDACTED]" in text.decode("utf-8", "replace") for _, text in files)
    assert hits == []
