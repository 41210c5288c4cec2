"""The README's first command: ``tradetrace demo`` in a subprocess, files read back for real."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb


def test_demo_writes_csv_and_jsonl_that_agree(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tradetrace", "demo", "--steps", "300"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "flushed in" in done.stdout
    assert "wrote tradetrace-demo/csv/avellaneda_fills_" in done.stdout
    root = tmp_path / "tradetrace-demo"
    (fills_csv,) = (root / "csv").glob("avellaneda_fills_*.csv")
    (fills_json,) = (root / "json").glob("avellaneda_fills_*.jsonl")
    with open(fills_csv, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    lines = [json.loads(line) for line in fills_json.read_text().splitlines()]
    fills_line = next(x for x in done.stdout.splitlines() if x.startswith("fills"))
    fills_printed = int(fills_line.split()[1])
    assert len(rows) == len(lines) == fills_printed > 0
    for row, line in zip(rows, lines, strict=True):
        attributes = line["attributes"]
        assert row["seq"] == str(line["seq"]) and row["price"] == attributes["trading.fill.price"]
        assert Decimal(row["fee"]) == Decimal(attributes["trading.fee.amount"])
    # every seq of the run is somewhere, exactly once
    seqs = []
    for path in (root / "json").glob("avellaneda_*_*.jsonl"):
        if "_runs" not in path.name:
            seqs += [json.loads(line)["seq"] for line in path.read_text().splitlines()]
    assert sorted(seqs) == list(range(1, len(seqs) + 1))
    errors = duckdb.sql(
        f"SELECT error_type, severity, recovery_action FROM read_csv_auto('{root}/csv/*errors*')"
    ).fetchall()
    assert errors == [("api_error", "WARNING", "Retry after 1 second")]


def test_cli_help_and_bad_arguments() -> None:
    run = [sys.executable, "-m", "tradetrace"]
    helped = subprocess.run([*run, "demo", "--help"], capture_output=True, text=True, check=False)
    assert helped.returncode == 0 and "--steps" in helped.stdout
    bad = subprocess.run(
        [*run, "demo", "--steps", "0"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and "--steps must be at least 1" in bad.stderr
