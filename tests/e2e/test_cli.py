"""The ``tradetrace`` command in a subprocess, against a session recorded by another process."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tradetrace as tt
from tradetrace.exporters.registry import FACTORIES

SESSION_SCRIPT = Path(__file__).resolve().parents[1] / "query" / "recorded_session.py"
EXPORTERS = ("csv", "jsonl") + tuple(n for n in ("duckdb", "parquet") if n in FACTORIES)
COMMANDS = ("demo", "sql", "stats", "verify", "export", "tail", "report")


def tradetrace(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradetrace", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The query tests' session, recorded by a separate process with every exporter."""
    directory = tmp_path_factory.mktemp("cli") / "data"
    done = subprocess.run(
        [sys.executable, str(SESSION_SCRIPT), str(directory), ",".join(EXPORTERS)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return directory


def one_line_error(done: subprocess.CompletedProcess[str], status: int, text: str) -> None:
    assert done.returncode == status, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert text in line, line


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command: str) -> None:
    done = tradetrace(command, "--help")
    assert done.returncode == 0 and f"usage: tradetrace {command}" in done.stdout
    listed = tradetrace("--help")
    assert command in listed.stdout


def test_sql_prints_an_aligned_table_by_default(recorded: Path) -> None:
    done = tradetrace("sql", recorded, "SELECT order_id, side, price, fee_quote FROM fills")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "order_id  side   price  fee_quote\n"
        "--------  ----  ------  ---------\n"
        "o-1       BUY    60000        0.6\n"
        "o-2       SELL   61000       0.61\n"
        "o-3       BUY     3000       0.75\n"
        "o-4       SELL  3010.5    1.50525\n"
        "o-5       BUY    59000       NULL\n"
        "(5 rows)\n"
    )


def test_sql_output_formats(recorded: Path) -> None:
    query = "SELECT seq, kind, price, attributes FROM records WHERE kind = 'fill' ORDER BY seq"
    as_csv = tradetrace("sql", recorded, query, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [row["price"] for row in rows] == ["60000", "61000", "3000", "3010.5", "59000"]
    assert (
        json.loads(rows[1]["attributes"]) == {"strategy_tag": "mm"} and rows[0]["attributes"] == ""
    )
    as_json = json.loads(tradetrace("sql", recorded, query, "--format", "json").stdout)
    assert as_json[1] == {"seq": 4, "kind": "fill", "price": "61000",
                          "attributes": {"strategy_tag": "mm"}}  # fmt: skip
    markdown = tradetrace("sql", recorded, query, "--format", "markdown").stdout.splitlines()
    assert markdown[:3] == [
        "| seq | kind | price | attributes |",
        "|---|---|---|---|",
        "| 1 | fill | 60000 |  |",
    ]


def test_sql_reads_the_chosen_format(recorded: Path) -> None:
    for read in ("csv", "jsonl", *(n for n in ("duckdb", "parquet") if n in EXPORTERS)):
        done = tradetrace("sql", recorded, "SELECT count(*) AS n FROM records", "--read", read)
        assert done.stdout.splitlines()[2].strip() == "22", (read, done.stdout, done.stderr)


def test_stats_prints_the_seed_summary(recorded: Path) -> None:
    done = tradetrace("stats", recorded)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "total_trades: 5",
        "winning_trades: 2",
        "losing_trades: 2",
        "win_rate: 40.00%",
        "total_pnl: 11.5",
        "total_fees: 3.46525",
        "net_pnl: 8.03475",
        "total_decisions: 3",
        "total_errors: 4",
        "error_breakdown: {'api_error': 2, 'order_failed': 1, 'strategy_error': 1}",
        "unconverted_fees: {'BNB': 0.01}",
    ]
    as_json = json.loads(tradetrace("stats", recorded, "--format", "json").stdout)
    assert as_json["net_pnl"] == "8.03475" and as_json["win_rate"] == 40.0


def test_verify_exit_status_says_whether_anything_is_wrong(recorded: Path, tmp_path: Path) -> None:
    done = tradetrace("verify", recorded)
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1] == (
        "OK: 1 run, 22 records; no gap, duplicate, orphan or unknown event"
    )
    damaged = tmp_path / "damaged"
    shutil.copytree(recorded / "json", damaged / "json")
    (fills,) = (damaged / "json").glob("s_fills_20240512.jsonl")
    lines = fills.read_text().splitlines(keepends=True)
    fills.write_text("".join(lines[:1] + lines[2:]))  # fill seq 4 is lost
    done = tradetrace("verify", damaged)
    assert done.returncode == 1
    assert "gap: seq 4 missing, after #3 risk_check inventory_limit" in done.stdout
    assert done.stdout.splitlines()[-1] == "PROBLEMS: 1 in 1 of 1 run"


def test_export_writes_a_source_with_a_progress_bar(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = tradetrace(
        "export", recorded, out, "--to", "csv", "--kind", "fill,error", "--start", "2024-05-13",
        "--progress", "--chunk-size", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("exported 3 records from ")
    assert done.stderr.splitlines()[-1] == (  # not a terminal: one line per chunk
        "exporting [##############################] 100% 3/3 records"
    )
    assert len(done.stderr.splitlines()) == 4  # 0, 1, 2 and 3 of 3
    assert sorted(p.name for p in (out / "csv").iterdir()) == [
        "s_errors_20240513.csv", "s_fills_20240513.csv", "s_runs.csv",
    ]  # fmt: skip
    counted = tradetrace(
        "sql", out, "SELECT kind, count(*) AS n FROM records GROUP BY 1 ORDER BY 1",
        "--format", "csv",
    )  # fmt: skip
    assert counted.stdout == "kind,n\nerror,1\nfill,2\n"
    bad = tradetrace("export", recorded, out, "--to", "csv", "--kind", "trade")
    one_line_error(bad, 2, "unknown kind 'trade'")
    bad = tradetrace("export", recorded, out, "--to", "xlsx")
    one_line_error(bad, 2, "--to 'xlsx': choose one of")
    bad = tradetrace("export", recorded, out, "--to", "json", "--start", "yesterday")
    one_line_error(bad, 2, "--start 'yesterday'")


def test_tail_once_prints_the_last_records_like_the_console_exporter(recorded: Path) -> None:
    done = tradetrace("tail", recorded, "--once", "-n", "2")
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first.startswith("#21 2024-05-13T09:00:00.000000000Z fill fill symbol=BTC-USDT")
    assert "price=59000 size=0.02 realized_pnl=-1.25 fee=0.01 fee_asset=BNB" in first
    assert second.startswith("#22 2024-05-13T09:00:00.000000000Z error strategy_error")


def test_tail_follows_new_records_until_ctrl_c(recorded: Path, tmp_path: Path) -> None:
    directory = tmp_path / "live"
    shutil.copytree(recorded / "json", directory / "json")
    follower = subprocess.Popen(
        [sys.executable, "-m", "tradetrace", "tail", str(directory), "-n", "1",
         "--interval", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline().startswith("#22 ")
        recorder = tt.Recorder(
            service_name="s", exporters=("jsonl",), directory=directory, mode="live",
            clock=tt.SimulatedClock("2024-05-14T00:00:00Z"), schedule_delay=0.01,
        )  # fmt: skip
        recorder.record_fill(symbol="SOL-USDT", side="BUY", price="150", quantity="2")
        recorder.record_decision("rebalance", reason="followed")
        assert recorder.shutdown(10)
        lines = [follower.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("#1 2024-05-14T00:00:00.000000000Z fill fill symbol=SOL-USDT")
        assert "decision rebalance" in lines[1] and "reason=followed" in lines[1]
        follower.send_signal(signal.SIGINT)
        assert follower.wait(30) == 0
        assert "Traceback" not in follower.stderr.read()  # type: ignore[union-attr]
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()


def test_a_bad_source_is_one_line_and_status_2(tmp_path: Path, recorded: Path) -> None:
    for command in ("sql", "stats", "verify", "export", "tail"):
        extra = {"sql": ["SELECT 1"], "export": [str(tmp_path / "o"), "--to", "csv"]}
        done = tradetrace(command, tmp_path / "missing", *extra.get(command, []))
        one_line_error(done, 2, f"tradetrace {command}: error: ")
        assert "no such file or directory" in done.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(tradetrace("stats", empty), 2, "is not a tradetrace export")
    one_line_error(
        tradetrace("sql", recorded / "json", "SELECT 1", "--read", "parquet"), 2,
        "has no Parquet records",
    )  # fmt: skip
    one_line_error(tradetrace("sql", recorded, "SELEC 1"), 1, "Parser Error")


def test_report_writes_one_html_file(recorded: Path, tmp_path: Path) -> None:
    pytest.importorskip("plotly", reason="the HTML report inlines plotly.js")
    output = tmp_path / "report.html"
    done = tradetrace("report", recorded, "-o", output)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {output}\n"
    assert output.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


def test_python_dash_m_and_the_entry_point_are_the_same_command() -> None:
    script = shutil.which("tradetrace", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("the tradetrace entry point is not installed next to this Python")
    started = time.monotonic()
    done = subprocess.run([script, "stats", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "usage: tradetrace stats" in done.stdout
    assert time.monotonic() - started < 60
