"""``write_report``: the HTML report of a real demo session, a synthetic million-record source,
and the page drawn for real by headless Chromium."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from synthetic_records import build_records

from tradetrace.demo import run_demo
from tradetrace.query import query, summary
from tradetrace.query import query as tt_query
from tradetrace.query.render import cell_text
from tradetrace.report import write_report
from tradetrace.report.downsample import line_series

SECTIONS = ("summary", "equity", "inventory", "fills", "fees", "spreads", "risk", "ledger",
            "verification")  # fmt: skip
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1400,4000",
    "--virtual-time-budget=10000",
)  # fmt: skip
MILLION = 1_000_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(source directory, report path, report text) of a 300-step demo session."""
    root = tmp_path_factory.mktemp("report")
    run_demo(root / "demo", steps=300, out=io.StringIO())
    report = write_report(root / "demo", root / "r.html")
    return root / "demo", report, report.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def million(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB source of one million records, made inside DuckDB."""
    return build_records(tmp_path_factory.mktemp("million") / "million.duckdb", MILLION)


@pytest.fixture(scope="module")
def million_report(million: Path) -> tuple[Path, float]:
    """The report of the million-record source and the seconds ``write_report`` took."""
    started = time.perf_counter()
    report = write_report(million, million.with_suffix(".html"))
    return report, time.perf_counter() - started


def figures(html: str) -> dict[str, dict[str, Any]]:
    """The page's figure JSON by div id."""
    found = re.search(r'<script type="application/json" id="tt-figures">(.*?)</script>', html)
    assert found, "no figure JSON in the page"
    return {figure["id"]: figure for figure in json.loads(found.group(1))}


def stat_cells(html: str) -> dict[str, tuple[str, str]]:
    """The summary table's cells: key -> (data-value, shown text)."""
    pattern = r'<td class="num" data-key="([^"]+)" data-value="([^"]*)">([^<]*)</td>'
    cells = re.findall(pattern, html)
    return {key: (value, text) for key, value, text in cells}


def section(html: str, name: str) -> str:
    found = re.search(rf'<section id="{name}">(.*?)</section>', html, re.S)
    assert found, f"no section {name}"
    return found.group(1)


# --- the demo session ----------------------------------------------------------------------


def test_every_section_is_there_with_its_charts(demo: tuple[Path, Path, str]) -> None:
    _, report, html = demo
    assert report.name == "r.html" and html.startswith("<!DOCTYPE html>")
    for name in SECTIONS:
        assert f'<section id="{name}">' in html and f'href="#{name}"' in html
    drawn = figures(html)
    assert set(drawn) == {"tt-equity", "tt-inventory", "tt-price-0", "tt-fees", "tt-spreads",
                          "tt-timeline"}  # fmt: skip
    assert f'data-plots-expected="{len(drawn)}"' in html
    for figure_id, figure in drawn.items():
        assert f'<div class="plot" id="{figure_id}"></div>' in html
        assert figure["data"], f"{figure_id} has no trace"
    names = {trace["name"] for trace in drawn["tt-price-0"]["data"]}
    assert names == {"fill price", "buy", "sell"}
    buy, sell = (next(t for t in drawn["tt-price-0"]["data"] if t["name"] == n)
                 for n in ("buy", "sell"))  # fmt: skip
    assert buy["marker"]["symbol"] != sell["marker"]["symbol"]
    assert buy["marker"]["color"] != sell["marker"]["color"]
    spreads = {trace["name"] for trace in drawn["tt-spreads"]["data"]}
    assert spreads == {"bid spread", "ask spread"}
    timeline = {trace["name"]: trace for trace in drawn["tt-timeline"]["data"]}
    assert set(timeline) == {"risk check passed", "error"}
    assert timeline["error"]["y"] == ["WARNING"]
    fees = drawn["tt-fees"]["data"]
    assert [(t["name"], t["x"]) for t in fees] == [("USDT", ["2025-10-24"])]


def test_summary_numbers_are_the_query_summary(demo: tuple[Path, Path, str]) -> None:
    source, _, html = demo
    stats = summary(source)
    cells = stat_cells(section(html, "summary"))
    for key, value in stats.items():
        if isinstance(value, dict):
            for name, item in value.items():
                assert cells[f"{key}.{name}"][1] == cell_text(item)
            continue
        shown_value, shown_text = cells[key]
        if isinstance(value, float):  # the win rate: exact in data-value, 2 places shown
            assert float(shown_value) == value and shown_text == f"{value:.2f} %"
        else:
            assert shown_text == cell_text(value), key
    assert stats["total_trades"] > 0 and stats["error_breakdown"] == {"api_error": 1}
    assert cells["error_breakdown.api_error"][1] == "1"
    assert "Fees (USDT)" in html and "Net PnL (USDT)" in html


def test_cumulative_net_pnl_ends_at_the_summary_net_pnl(demo: tuple[Path, Path, str]) -> None:
    source, _, html = demo
    drawn = figures(html)["tt-equity"]["data"]
    pnl = next(trace for trace in drawn if trace["name"] == "cumulative net PnL")
    equity = next(trace for trace in drawn if trace["name"] == "equity")
    net = summary(source)["net_pnl"]
    assert pnl["y"][-1] == pytest.approx(float(net), abs=1e-9)
    fills = summary(source)["total_trades"]
    assert len(pnl["x"]) == len(equity["x"]) == fills  # small series: every point, in order
    assert pnl["x"] == sorted(pnl["x"])


def test_the_page_is_self_contained(demo: tuple[Path, Path, str]) -> None:
    _, report, html = demo
    markup = re.sub(r"(<script\b[^>]*>).*?</script>", r"\1</script>", html, flags=re.S)
    tags = re.findall(r"<(?:script|link|img|iframe|object|embed)\b[^>]*>", markup, re.I)
    assert tags and all(not re.search(r"\bsrc\s*=", tag, re.I) for tag in tags), tags
    assert not re.search(r"<link\b", markup, re.I)
    links = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"' >]*)""", markup, re.I)
    assert links and all(link.startswith("#") for link in links), links  # anchors only
    assert not re.search(r"@import|url\(", markup, re.I)
    assert "Plotly.newPlot" in html and markup.count("<script>") == 3  # errors, plotly.js, draw
    size = report.stat().st_size
    assert 4_000_000 < size < 7_000_000, f"{size:,} bytes"  # plotly.js is ~4.8 MB of it


def test_ledger_folds_bundles_and_shows_lifecycles(demo: tuple[Path, Path, str]) -> None:
    source, _, html = demo
    wrappers = tt_query(
        "SELECT seq FROM events WHERE parent_seq IS NULL ORDER BY seq", source=source
    ).fetchall()
    ledger = section(html, "ledger")
    top = re.findall(r'<tr(?: class="bundle")?><td>#(\d+)', ledger)
    bundle = re.search(r"<details><summary>bundle <b>ATOMIC_HEDGE</b>.*?</details>", ledger, re.S)
    assert bundle, ledger[:2000]
    for child in ("FLASH_BORROW", "SPOT_TRADE", "FLASH_REPAID"):
        assert child in bundle.group(0)
        assert ledger.count(child) == 1  # only under its wrapper, never as its own row
    assert "3 of 3 children written" in bundle.group(0)
    assert "2 updates: pending → submitted → confirmed" in ledger
    assert '<span class="tag good">confirmed</span>' in ledger
    assert "0x5e1f0c8d" in ledger
    assert top == [str(seq) for (seq,) in wrappers] and len(top) == 2
    assert "2 ledger rows" in ledger


def test_verify_badge_is_green_for_a_complete_session(demo: tuple[Path, Path, str]) -> None:
    _, _, html = demo
    assert 'id="tt-verify" data-ok="true"' in html and "verify OK: 1 run" in html
    assert "no gap, duplicate, orphan or unknown event" in section(html, "verification")


def test_a_csv_source_gives_the_same_numbers(demo: tuple[Path, Path, str], tmp_path: Path) -> None:
    source, _, html = demo
    from_csv = write_report(source / "csv", tmp_path / "csv.html", title="CSV <report>")
    text = from_csv.read_text(encoding="utf-8")
    assert "<title>CSV &lt;report&gt;</title>" in text and "CSV: 7 files" in text
    assert stat_cells(text) == stat_cells(html)


def test_two_runs_in_one_directory_get_their_own_series(tmp_path: Path) -> None:
    for seed in (1, 2):
        run_demo(tmp_path / "two", steps=60, seed=seed, out=io.StringIO(), exporters=("jsonl",))
    report = write_report(tmp_path / "two", tmp_path / "two.html")
    html = report.read_text(encoding="utf-8")
    assert "<b>2</b> runs" in html and "JSON Lines: " in html and 'data-ok="true"' in html
    names = [trace["name"] for trace in figures(html)["tt-equity"]["data"]]
    assert len(names) == 4 and len({name.split(" · ")[0] for name in names}) == 2
    assert sorted(name.split(" · ")[1] for name in names) == [
        "cumulative net PnL", "cumulative net PnL", "equity", "equity",
    ]  # fmt: skip


# --- synthetic sources ---------------------------------------------------------------------


def test_a_broken_sequence_turns_the_badge_red(tmp_path: Path) -> None:
    source = build_records(tmp_path / "gap.duckdb", 400, drop_seqs=(120, 121, 300))
    html = write_report(source, tmp_path / "gap.html").read_text(encoding="utf-8")
    badge = re.search(r'<details class="badge bad" id="tt-verify" data-ok="false" open>.*?'
                      r"</details>", html, re.S)  # fmt: skip
    assert badge, "no red badge"
    assert "verify FAILED" in badge.group(0) and "gap: seqs 120..121 (2) missing" in badge.group(0)
    assert "gap: seq 300 missing" in badge.group(0)


def test_an_empty_source_renders_every_section(tmp_path: Path) -> None:
    source = build_records(tmp_path / "empty.duckdb", 0)
    html = write_report(source, tmp_path / "empty.html").read_text(encoding="utf-8")
    for name in SECTIONS:
        assert f'<section id="{name}">' in html
    assert "No fills in this source." in html and "No events in this source." in html
    assert all(not figure["data"] for figure in figures(html).values())
    assert stat_cells(html)["total_trades"][1] == "0"


def test_downsampling_keeps_extremes_and_ends_within_max_points(tmp_path: Path) -> None:
    source = build_records(tmp_path / "s.duckdb", 40_000)
    html = write_report(source, tmp_path / "s.html", max_points=200).read_text(encoding="utf-8")
    drawn = figures(html)
    for figure in drawn.values():
        for trace in figure["data"]:
            assert len(trace["x"]) <= 200, (figure["id"], trace["name"], len(trace["x"]))
    assert "Downsampled in SQL for plotting" in html
    from tradetrace.query import open_source

    with open_source(source) as opened:
        (low, high, first, last), *_ = opened.sql(
            "SELECT min(equity_after), max(equity_after), arg_min(equity_after, time_ns), "
            "arg_max(equity_after, time_ns) FROM fills"
        ).fetchall()
        direct = line_series(opened, "SELECT 'x' AS series, seq AS t, seq AS v, seq AS id "
                             "FROM records WHERE seq <= 150", 200)  # fmt: skip
    equity = next(t for t in drawn["tt-equity"]["data"] if t["name"] == "equity")
    assert min(equity["y"]) == float(low) and max(equity["y"]) == float(high)
    assert equity["y"][0] == float(first) and equity["y"][-1] == float(last)
    assert equity["x"] == sorted(equity["x"])
    (whole,) = direct.series  # a series under max_points comes back whole
    assert whole.ids == list(range(1, 151)) and not whole.downsampled


def test_tables_are_paged_and_text_is_escaped(tmp_path: Path) -> None:
    source = build_records(tmp_path / "p.duckdb", 40_000)
    html = write_report(source, tmp_path / "p.html").read_text(encoding="utf-8")
    ledger = section(html, "ledger")
    assert ledger.count('<tr class="bundle">') + ledger.count("<tr><td>#") == 500
    assert "Showing the first 500 of 3,920 ledger rows" in ledger
    incidents = section(html, "risk")
    assert "Showing the first" not in incidents  # 200 errors and ~80 failed checks: all shown
    assert incidents.count("<td>Retry after 1 second</td>") == 200
    assert "Rate limit exceeded: &lt;1200&gt; requests &amp; more" in html
    assert "<1200>" not in html


def test_max_points_must_leave_room_for_a_bucket(tmp_path: Path) -> None:
    source = build_records(tmp_path / "m.duckdb", 10)
    with pytest.raises(ValueError, match="max_points"):
        write_report(source, tmp_path / "m.html", max_points=4)


def test_a_million_records_render_fast_into_a_small_file(
    million: Path, million_report: tuple[Path, float]
) -> None:
    report, elapsed = million_report
    size = report.stat().st_size
    print(f"\n1,000,000 records: report in {elapsed:.1f} s, {size / 1e6:.1f} MB HTML: {report}")
    assert elapsed < 60, f"{elapsed:.1f} s"
    assert size < 15_000_000, f"{size:,} bytes"
    html = report.read_text(encoding="utf-8")
    assert f"<b>{MILLION:,}</b> records" in html
    for figure in figures(html).values():
        assert all(len(trace["x"]) <= 5000 for trace in figure["data"]), figure["id"]
    stats = summary(million)
    assert stat_cells(html)["total_trades"][1] == str(stats["total_trades"]) == "300000"
    assert stat_cells(html)["net_pnl"][1] == cell_text(stats["net_pnl"])
    assert Decimal(stat_cells(html)["unconverted_fees.BNB"][1]) > 0
    assert 'data-ok="true"' in html
    ((incidents,),) = query(
        "SELECT (SELECT count(*) FROM errors) "
        "+ (SELECT count(*) FROM risk_checks WHERE NOT passed)",
        source=million,
    ).fetchall()
    assert f"Showing the first 300 of {incidents:,} errors and failed risk checks" in html
    assert f"Showing the first 500 of {MILLION // 10 - 2 * MILLION // 1000:,} ledger rows" in html


# --- drawn by a real browser ---------------------------------------------------------------


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        f"no Chromium on PATH (looked for {', '.join(CHROMIUM_NAMES)}): "
        "install the Debian package `chromium` to run the browser tests"
    )


def run_chromium(page: Path, work: Path, *output: str) -> tuple[str, float]:
    """Chromium's stdout for ``page`` and the wall time it took."""
    work.mkdir(parents=True, exist_ok=True)
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={work}", *output, page.as_uri()]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, elapsed


def assert_drawn(dom: str, expected: int) -> list[dict[str, Any]]:
    """Every chart drew, at a real size, with no script error."""
    body = re.search(r"<body[^>]*>", dom)
    assert body, dom[:500]
    assert f'data-plots-ready="{expected}"' in body.group(0), body.group(0)
    errors = re.search(r'<pre id="tt-errors"[^>]*>(.*?)</pre>', dom, re.S)
    assert errors is not None and errors.group(1) == "", errors and errors.group(1)
    sizes = re.search(r'<pre id="tt-plot-sizes"[^>]*>(.*?)</pre>', dom, re.S)
    assert sizes, "no plot sizes recorded"
    charts = json.loads(sizes.group(1))
    assert len(charts) == expected
    for chart in charts:
        assert chart["plotly"] and chart["width"] > 600 and chart["height"] >= 150, chart
    assert len(re.findall(r'class="[^"]*\bjs-plotly-plot\b', dom)) == expected
    assert dom.count('class="main-svg"') >= expected
    return charts


def test_chromium_draws_every_chart(demo: tuple[Path, Path, str], tmp_path: Path) -> None:
    _, report, html = demo
    expected = len(figures(html))
    dom, _ = run_chromium(report, tmp_path / "profile-dom", "--dump-dom")
    charts = assert_drawn(dom, expected)
    assert [chart["id"] for chart in charts] == list(figures(html))
    screenshot = tmp_path / "report.png"
    run_chromium(report, tmp_path / "profile-png", f"--screenshot={screenshot}")
    print(f"\nscreenshot of the demo report: {screenshot}")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000, f"{screenshot.stat().st_size} bytes: blank page?"


def test_chromium_opens_the_million_record_report(
    million_report: tuple[Path, float], tmp_path: Path
) -> None:
    report, _ = million_report
    dom, elapsed = run_chromium(report, tmp_path / "profile", "--dump-dom")
    charts = assert_drawn(dom, len(figures(report.read_text(encoding="utf-8"))))
    print(f"\nChromium drew the {len(charts)} charts of 1,000,000 records in {elapsed:.1f} s")
    assert elapsed < 60
