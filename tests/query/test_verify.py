"""``verify`` finds planted gaps, duplicates, orphans, unknown events, and a process that ended
inside an operation (a real crash in a subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from planting import duplicate_record, remove_record, retarget_update
from recorded_session import Session
from test_source import AVAILABLE, formats

import tradetrace
from tradetrace.query.verify import Gap, Neighbor

SCRIPT = Path(__file__).with_name("recorded_session.py")


@pytest.mark.parametrize("format", formats())
def test_a_complete_session_verifies_ok(session: Session, format: str) -> None:
    report = tradetrace.verify(session.directory, format=format)
    assert report.ok and bool(report)
    (run,) = report.runs
    last = max(session.seqs.values())
    assert (run.run_id, run.records, run.first_seq, run.last_seq) == (
        session.run_id, last, 1, last,
    )  # fmt: skip
    text = str(report)
    assert f"run {session.run_id}: {last} records, seq 1..{last}: OK" in text
    assert text.splitlines()[-1].startswith("OK: 1 run")


@pytest.mark.parametrize("format", formats())
def test_a_missing_record_is_a_gap_with_its_neighbours(session_copy: Session, format: str) -> None:
    seqs = session_copy.seqs
    gone = seqs["risk_ok"]
    remove_record(session_copy.directory, format, gone)
    report = tradetrace.verify(session_copy.directory, format=format)
    assert not report.ok
    (run,) = report.runs
    before = Neighbor(seqs["decision"], "decision", "spread_calculation", 1_715_508_001 * 10**9)
    after = Neighbor(seqs["f2"], "fill", "fill", 1_715_508_001 * 10**9)
    assert run.gaps == [Gap(gone, gone, before, after)]
    assert not (run.orphans or run.unfinished or run.duplicates or run.unknown_updates)
    assert (
        f"gap: seq {gone} missing, after #{before.seq} decision spread_calculation at "
        "2024-05-12T10:00:01.000000000Z, before "
        f"#{after.seq} fill fill at 2024-05-12T10:00:01.000000000Z"
    ) in str(report)


@pytest.mark.parametrize("format", formats())
def test_a_record_written_twice_is_a_duplicate(session_copy: Session, format: str) -> None:
    if format == "duckdb":
        pytest.skip("the DuckDB table's primary key (run_id, seq) refuses a duplicate")
    seq = session_copy.seqs["f3"]
    duplicate_record(session_copy.directory, format, seq)
    report = tradetrace.verify(session_copy.directory, format=format)
    (run,) = report.runs
    assert [(d.seq, d.count, d.kinds, d.identical) for d in run.duplicates] == [
        (seq, 2, ("fill",), True)
    ]
    assert not (run.gaps or run.orphans or run.unfinished) and not report.ok
    assert f"duplicate: #{seq} written 2 times (fill; copies of one record)" in str(report)


@pytest.mark.parametrize("format", formats())
def test_children_of_a_lost_parent_are_orphans(session_copy: Session, format: str) -> None:
    seqs = session_copy.seqs
    parent = seqs["bundle"]
    remove_record(session_copy.directory, format, parent)
    report = tradetrace.verify(session_copy.directory, format=format)
    (run,) = report.runs
    # the run went on after the bundle: its record was lost, the process did not end inside it
    assert run.unfinished == []
    assert [(o.seq, o.name, o.parent_seq) for o in run.orphans] == [
        (seqs["borrow"], "FLASH_BORROW", parent),
        (seqs["deposit"], "STAKE_DEPOSIT", parent),
    ]
    assert [(g.first, g.last) for g in run.gaps] == [(parent, parent)]
    assert (
        f"orphan: #{seqs['borrow']} event FLASH_BORROW names parent #{parent}, which was not "
        "written"
    ) in str(report)


def test_an_update_of_an_unknown_event_is_reported(session_copy: Session) -> None:
    update = session_copy.seqs["submitted"]
    retarget_update(session_copy.directory, update, 999)
    report = tradetrace.verify(session_copy.directory, format="jsonl")
    (run,) = report.runs
    assert [(u.seq, u.updates_seq, u.status) for u in run.unknown_updates] == [
        (update, 999, "submitted")
    ]
    assert f"unknown event: #{update} updates event #999 to 'submitted'" in str(report)
    assert not report.ok


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    """A run whose process ended (``os._exit``) inside a bundle, after its children were
    flushed: every available exporter wrote what it had."""
    directory = tmp_path_factory.mktemp("crash")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--crash", str(directory), ",".join(AVAILABLE)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    run_id, bundle = done.stdout.split()
    return directory, run_id, int(bundle)


@pytest.mark.parametrize("format", formats())
def test_a_process_that_ended_inside_a_bundle_is_reported_as_such(
    crashed: tuple[Path, str, int], format: str
) -> None:
    directory, run_id, bundle = crashed
    report = tradetrace.verify(directory, format=format)
    assert not report.ok
    (run,) = report.runs
    assert run.run_id == run_id
    (unfinished,) = run.unfinished
    assert (unfinished.seq, unfinished.inside, unfinished.children) == (
        bundle, 2, (bundle + 1, bundle + 2),
    )  # fmt: skip
    assert run.orphans == []  # explained: not lost records
    assert [(g.first, g.last) for g in run.gaps] == [(bundle, bundle)]
    assert (
        f"process ended inside this operation: #{bundle} began but was never written "
        f"(2 records made inside it, children #{bundle + 1}, #{bundle + 2})"
    ) in str(report)
    assert str(report).splitlines()[-1] == "PROBLEMS: 2 in 1 of 1 run"


def test_several_problems_and_runs_in_one_report(session_copy: Session, tmp_path: Path) -> None:
    seqs = session_copy.seqs
    remove_record(session_copy.directory, "jsonl", seqs["f1"])  # a gap at the start
    duplicate_record(session_copy.directory, "jsonl", seqs["order"])
    report = tradetrace.verify(session_copy.directory / "json")
    text = str(report)
    assert "gap: seq 1 missing, at the start of the run, before #2" in text
    assert f"duplicate: #{seqs['order']} written 2 times" in text
    assert report.runs[0].problems == 2
