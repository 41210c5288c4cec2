"""SIGTERM, SIGINT, sys.exit and normal exit flush: real child processes, real signals.

Each child records fills only (so seqs 1..N are all fills) to CSV and JSON Lines with nothing
exported before the stop (``schedule_delay=60``, huge batches): whatever reaches the files was
written by the stop path. The last seq ``record_fill`` returned is kept in a shared page, so it
is known even when the child is killed. Each test prints its figures (run ``pytest -s``).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import tradetrace as tt

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PRELUDE = '''
import mmap, os, signal, struct, sys, threading, time
import tradetrace as tt
from tradetrace.pipeline import graceful_stop

DIRECTORY, LAST = sys.argv[1], sys.argv[2]
_last = mmap.mmap(os.open(LAST, os.O_RDWR), 8)
signal.signal(signal.SIGINT, signal.default_int_handler)  # as Python starts, even if the
signal.signal(signal.SIGTERM, signal.SIG_DFL)  # test runner was started with them ignored


def new_recorder(**options):
    settings = dict(service_name="stop", exporters=("csv", "jsonl"), directory=DIRECTORY,
                    schedule_delay=60, batch_size=1_000_000, queue_size=2_000_000)
    settings.update(options)
    return tt.Recorder(**settings)


def record(rec, until=None, exit_at=None):
    """Fills, as fast as possible up to 50 000 ("ready"), then about 70 000 a second."""
    i = 0
    while until is None or i < until:
        i += 1
        seq = rec.record_fill(symbol="BTC-USDT", side="BUY", price=f"{i}.25", quantity="0.001")
        struct.pack_into("q", _last, 0, seq)
        if i == exit_at:
            sys.exit(0)
        if i == 50_000:
            print("ready", flush=True)
        elif i > 50_000 and i % 100 == 0:
            time.sleep(0.001)


def rows_written():
    import glob
    paths = glob.glob(os.path.join(DIRECTORY, "csv", "*_fills_*.csv"))
    return sum(sum(1 for _ in open(path)) - 1 for path in paths)
'''


@dataclass
class Child:
    process: subprocess.Popen[str]
    directory: Path
    last: Path
    started: float = 0.0  # when the stop began (signal sent or "ready" seen)


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    recorded: int  # the last seq record_fill returned in the child
    seconds: float  # from the stop to the child's exit
    csv_seqs: list[int]
    jsonl_seqs: list[int]


def start(tmp_path: Path, body: str, env: dict[str, str] | None = None) -> Child:
    script = tmp_path / "child.py"
    script.write_text(PRELUDE + textwrap.dedent(body), encoding="utf-8")
    last = tmp_path / "last_seq"
    last.write_bytes(bytes(8))
    directory = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, str(script), str(directory), str(last)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return Child(process, directory, last)


def wait_ready(child: Child) -> None:
    line = child.process.stdout.readline() if child.process.stdout else ""
    if line.strip() != "ready":
        child.process.kill()
        _, stderr = child.process.communicate()
        pytest.fail(f"child did not start recording: {line!r}\n{stderr}")
    child.started = time.perf_counter()


def send(child: Child, signum: int, settle: float = 0.2) -> None:
    """Send ``signum`` once the child is ``settle`` seconds into its steady recording."""
    time.sleep(settle)
    child.started = time.perf_counter()
    child.process.send_signal(signum)


def finish(child: Child, label: str, timeout: float = 20.0) -> Outcome:
    try:
        stdout, stderr = child.process.communicate(timeout=timeout)
    finally:
        if child.process.poll() is None:
            child.process.kill()
            child.process.communicate()
    seconds = time.perf_counter() - child.started
    outcome = Outcome(
        child.process.returncode,
        stdout,
        stderr,
        int.from_bytes(child.last.read_bytes(), sys.byteorder, signed=True),
        seconds,
        written_seqs(child.directory, "csv"),
        written_seqs(child.directory, "jsonl"),
    )
    print(
        f"\n[{label}] recorded {outcome.recorded}, found csv {len(outcome.csv_seqs)} / jsonl "
        f"{len(outcome.jsonl_seqs)}, stop to exit {seconds:.3f}s, returncode {outcome.returncode}"
    )
    return outcome


def written_seqs(directory: Path, format: str) -> list[int]:
    """Seqs of the fills in the files, in file order (all of them: duplicates count)."""
    seqs: list[int] = []
    if format == "csv":
        for path in sorted((directory / "csv").glob("*_fills_*.csv")):
            with path.open(newline="", encoding="utf-8") as file:
                seqs.extend(int(row["seq"]) for row in csv.DictReader(file))
    else:
        for path in sorted((directory / "json").glob("*_fills_*.jsonl")):
            with path.open(encoding="utf-8") as file:
                seqs.extend(json.loads(line)["seq"] for line in file)
    return seqs


def assert_complete(outcome: Outcome, directory: Path) -> None:
    """Every seq the child got back is in both formats, once, with no gap; verify agrees."""
    assert outcome.recorded >= 50_000, outcome.stderr
    for seqs in (outcome.csv_seqs, outcome.jsonl_seqs):
        assert sorted(seqs) == list(range(1, len(seqs) + 1))  # no gap, no duplicate
        assert len(seqs) >= outcome.recorded  # at most the one being recorded when it stopped
        assert len(seqs) <= outcome.recorded + 1
    for format in ("csv", "jsonl"):
        report = tt.verify(directory, format=format)
        assert report.ok, str(report)
        assert report.records == len(outcome.csv_seqs)


def test_sigterm_without_app_handler_flushes_then_dies_by_sigterm(tmp_path: Path) -> None:
    child = start(tmp_path, "record(new_recorder())\n")
    wait_ready(child)
    send(child, signal.SIGTERM)
    outcome = finish(child, "SIGTERM, no app handler")
    assert outcome.returncode == -signal.SIGTERM, outcome.stderr
    assert_complete(outcome, child.directory)
    assert outcome.seconds < 5.0


def test_sigterm_flushes_before_the_app_handler_installed_earlier(tmp_path: Path) -> None:
    body = """
    def on_term(signum, frame):
        print(f"app handler: {rows_written()} rows already written", flush=True)
        sys.exit(3)

    signal.signal(signal.SIGTERM, on_term)
    record(new_recorder())
    """
    child = start(tmp_path, body)
    wait_ready(child)
    send(child, signal.SIGTERM)
    outcome = finish(child, "SIGTERM, app handler installed before")
    assert outcome.returncode == 3, outcome.stderr
    assert_complete(outcome, child.directory)
    assert f"app handler: {len(outcome.csv_seqs)} rows already written" in outcome.stdout


def test_sigint_flushes_then_raises_keyboard_interrupt(tmp_path: Path) -> None:
    body = """
    try:
        record(new_recorder())
    except KeyboardInterrupt:
        print(f"interrupted: {rows_written()} rows already written", flush=True)
    """
    child = start(tmp_path, body)
    wait_ready(child)
    send(child, signal.SIGINT)
    outcome = finish(child, "SIGINT, default handler")
    assert outcome.returncode == 0, outcome.stderr
    assert_complete(outcome, child.directory)
    assert f"interrupted: {len(outcome.csv_seqs)} rows already written" in outcome.stdout


@pytest.mark.parametrize(
    "ending", ["record(rec, exit_at=60_000)", "record(rec, until=60_000)"], ids=["sys_exit", "end"]
)
def test_sys_exit_and_normal_end_flush_at_exit(tmp_path: Path, ending: str) -> None:
    child = start(tmp_path, f"rec = new_recorder()\n{ending}\n")
    wait_ready(child)
    outcome = finish(child, "sys.exit(0)" if "exit_at" in ending else "normal end")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.recorded == 60_000
    assert_complete(outcome, child.directory)


@pytest.mark.parametrize("switch", ["handle_signals=False", "TRADETRACE_HANDLE_SIGNALS=0"])
def test_opting_out_leaves_the_signal_handlers_alone(tmp_path: Path, switch: str) -> None:
    keyword = switch if switch.startswith("handle") else ""
    body = f"""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    rec = new_recorder({keyword})
    after = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    print("unchanged" if before == after and not graceful_stop.installed() else after, flush=True)
    record(rec)
    """
    env = {} if switch.startswith("handle") else {"TRADETRACE_HANDLE_SIGNALS": "0"}
    child = start(tmp_path, body, env)
    assert child.process.stdout is not None
    assert child.process.stdout.readline().strip() == "unchanged"
    wait_ready(child)
    send(child, signal.SIGTERM)
    outcome = finish(child, f"opt-out {switch}")
    assert outcome.returncode == -signal.SIGTERM
    assert outcome.csv_seqs == outcome.jsonl_seqs == []  # killed as before: nothing flushed


def test_recorder_made_off_the_main_thread_installs_nothing(tmp_path: Path) -> None:
    body = """
    errors, recorders = [], []

    def work():
        try:
            recorders.append(new_recorder())
            record(recorders[0], until=60_000)
        except BaseException as exc:
            errors.append(repr(exc))

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    after = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    print("unchanged" if before == after and not graceful_stop.installed() else after)
    print("errors:", errors)
    """
    child = start(tmp_path, body)
    wait_ready(child)
    outcome = finish(child, "Recorder made in a worker thread")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.stdout.splitlines() == ["unchanged", "errors: []"]
    assert outcome.recorded == 60_000
    assert_complete(outcome, child.directory)


def test_app_handler_installed_later_calls_flush_all(tmp_path: Path) -> None:
    body = """
    rec = new_recorder()

    def on_term(signum, frame):
        ok = tt.flush_all()
        print(f"app handler: flush_all -> {ok}, {rows_written()} rows written", flush=True)
        os._exit(7)  # no atexit: only flush_all wrote the files

    signal.signal(signal.SIGTERM, on_term)
    record(rec)
    """
    child = start(tmp_path, body)
    wait_ready(child)
    send(child, signal.SIGTERM)
    outcome = finish(child, "app handler installed after, calls tt.flush_all()")
    assert outcome.returncode == 7, outcome.stderr
    assert_complete(outcome, child.directory)
    assert f"flush_all -> True, {len(outcome.csv_seqs)} rows written" in outcome.stdout


def test_signal_while_the_main_thread_holds_the_processor_lock(tmp_path: Path) -> None:
    body = """
    rec = new_recorder(exit_timeout=3)
    record(rec, until=50_000)
    with rec._processor._progress:  # where Processor._emit_slow waits for room
        signal.raise_signal(signal.SIGTERM)  # the handler runs here, with the lock held
        time.sleep(30)
    """
    child = start(tmp_path, body)
    wait_ready(child)
    outcome = finish(child, "SIGTERM while the main thread holds Processor._progress")
    assert outcome.returncode == -signal.SIGTERM, outcome.stderr
    assert outcome.recorded == 50_000
    assert_complete(outcome, child.directory)
    assert outcome.seconds < 3.0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_second_signal_during_the_flush_chains_at_once(tmp_path: Path, signum: int) -> None:
    body = """
    class Stuck(tt.BaseExporter):
        name = "stuck"

        def export(self, batch):
            print("exporting", flush=True)
            time.sleep(60)
            return tt.ExportResult.SUCCESS

    rec = new_recorder(exporters=("csv", "jsonl", Stuck()), exit_timeout=30)
    try:
        record(rec)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        rec.shutdown(0.5)  # the stuck exporter would hold exit for exit_timeout
    """
    child = start(tmp_path, body)
    assert child.process.stdout is not None
    wait_ready(child)
    send(child, signum)
    assert child.process.stdout.readline().strip() == "exporting"  # the flush is under way
    second = time.perf_counter()
    child.process.send_signal(signum)
    if signum == signal.SIGINT:  # to the KeyboardInterrupt in the app
        assert child.process.stdout.readline().strip() == "interrupted"
        chained = time.perf_counter() - second
    outcome = finish(child, f"second {signal.Signals(signum).name} during the flush")
    if signum == signal.SIGTERM:  # to the death by SIGTERM
        chained = time.perf_counter() - second
    print(f"  second signal to the chained handler {chained:.3f}s (the flush could take 30s)")
    if signum == signal.SIGINT:
        assert outcome.returncode == 0, outcome.stderr
        assert outcome.stdout == ""  # one KeyboardInterrupt, nothing after it
    else:
        assert outcome.returncode == -signal.SIGTERM, outcome.stderr
    assert chained < 1.0
