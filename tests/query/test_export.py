"""``export_records``: the chosen records of a SOURCE written again by an exporter, as a SOURCE."""

from __future__ import annotations

from pathlib import Path

import pytest
from recorded_session import Session
from test_views import sorted_rows

from tradetrace.query.export import available_targets, export_records
from tradetrace.query.source import open_source

TARGET_FORMAT = {"csv": "csv", "json": "jsonl", "parquet": "parquet", "duckdb": "duckdb"}


def _records(directory: Path, format: str, where: str = "true") -> list[tuple[object, ...]]:
    with open_source(directory, format=format) as source:
        return sorted_rows(source, f"(SELECT * FROM records WHERE {where})")


@pytest.mark.parametrize("target", available_targets())
def test_an_export_is_a_source_with_the_same_records(
    session: Session, tmp_path: Path, target: str
) -> None:
    out = tmp_path / "out"
    progress: list[tuple[int, int]] = []
    with open_source(session.directory, format="jsonl") as source:
        written = export_records(
            source, target, out, chunk_size=7, progress=lambda d, t: progress.append((d, t))
        )
    total = max(session.seqs.values())
    assert written.records == total and written.services == ("s",)
    assert progress[0] == (0, total) and progress[-1] == (total, total) and len(progress) > 3
    assert _records(out, TARGET_FORMAT[target]) == _records(session.directory, "jsonl")
    with open_source(out, format=TARGET_FORMAT[target]) as exported:
        runs = exported.sql("SELECT run_id, service_name, mode FROM runs").fetchall()
    if target != "parquet":  # the Parquet exporter writes no runs file
        assert runs == [(session.run_id, "s", "live")]


def test_start_end_and_kinds_choose_the_records(session: Session, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with open_source(session.directory, format="csv") as source:
        written = export_records(
            source, "json", out, start="2024-05-12", end="2024-05-13T00:00:00Z",
            kinds=["fill", "error"],
        )  # fmt: skip
    where = "kind IN ('fill', 'error') AND time < TIMESTAMPTZ '2024-05-13 00:00:00+00'"
    expected = _records(session.directory, "jsonl", where)
    assert written.records == len(expected) == 6  # 3 fills and 3 errors on the first day
    assert _records(out, "jsonl") == expected


def test_an_unknown_target_is_refused(session: Session, tmp_path: Path) -> None:
    with (
        open_source(session.directory, format="jsonl") as source,
        pytest.raises(ValueError, match="unknown target 'xlsx'"),
    ):
        export_records(source, "xlsx", tmp_path)
