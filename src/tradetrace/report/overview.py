"""The report's first section: what the source holds and the seed's summary statistics.

The statistics are exactly :func:`tradetrace.query.summary` (each value cell carries its key in
``data-key``, so a reader or a test can find it); around them, the period covered, the record
count of each kind and the runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tradetrace.report.markup import esc, table, value_text
from tradetrace.report.runner import SqlRunner, one_row

#: Runs listed in the overview (the source may hold many).
MAX_RUNS = 50

#: The summary's keys in display order, with their labels (amounts in the quote currency).
SUMMARY_LABELS: dict[str, str] = {
    "total_trades": "Total trades",
    "winning_trades": "Winning trades",
    "losing_trades": "Losing trades",
    "win_rate": "Win rate",
    "total_pnl": "Total PnL",
    "total_fees": "Fees",
    "net_pnl": "Net PnL",
    "total_decisions": "Decisions",
    "total_errors": "Errors",
}
_AMOUNTS = frozenset({"total_pnl", "total_fees", "net_pnl"})


@dataclass
class Overview:
    """Counts and period of a source."""

    records: int = 0
    first: datetime | None = None
    last: datetime | None = None
    kinds: list[tuple[str, int]] = field(default_factory=list)
    runs: list[tuple[Any, ...]] = field(default_factory=list)
    run_count: int = 0
    services: list[str] = field(default_factory=list)
    quote_assets: list[str] = field(default_factory=list)

    @property
    def period(self) -> str:
        if self.first is None or self.last is None:
            return "no records"
        return f"{self.first:%Y-%m-%d %H:%M:%S} – {self.last:%Y-%m-%d %H:%M:%S} UTC"


_RUNS = f"""WITH r AS (
  SELECT run_id, count(*) AS records, min(time) AS first, max(time) AS last
  FROM records GROUP BY run_id
)
SELECT r.run_id, any_value(x.service_name) AS service, any_value(x.mode) AS mode,
  any_value(x.strategy) AS strategy, any_value(r.records) AS records,
  any_value(r.first) AS first, any_value(r.last) AS last
FROM r LEFT JOIN runs AS x ON x.run_id = r.run_id
GROUP BY r.run_id ORDER BY first, r.run_id LIMIT {MAX_RUNS}"""


def overview(source: SqlRunner) -> Overview:
    """Read the counts, period and runs of ``source``."""
    found = Overview()
    found.records, found.first, found.last = one_row(
        source, "SELECT count(*), min(time), max(time) FROM records"
    )
    found.kinds = [
        (kind, n)
        for kind, n in source.sql(
            "SELECT kind, count(*) AS n FROM records GROUP BY kind ORDER BY n DESC, kind"
        ).fetchall()
    ]
    found.runs = source.sql(_RUNS).fetchall()
    (found.run_count,) = one_row(source, "SELECT count(DISTINCT run_id) FROM records")
    found.services = sorted({run[1] for run in found.runs if run[1]})
    found.quote_assets = [
        asset
        for (asset,) in source.sql(
            "SELECT DISTINCT quote_asset FROM fills WHERE quote_asset IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
    return found


def _stat_row(label: str, key: str, value: Any, shown: str | None = None) -> str:
    text = shown if shown is not None else value_text(value)
    return (
        f'<tr><th scope="row">{esc(label)}</th>'
        f'<td class="num" data-key="{esc(key)}" data-value="{esc(repr(value))}">{esc(text)}</td>'
        "</tr>"
    )


def summary_html(stats: dict[str, Any], quote: str = "") -> str:
    """The seed's summary statistics as a two-column table."""
    unit = f" ({quote})" if quote else " (quote currency)"
    rows = []
    for key, label in SUMMARY_LABELS.items():
        if key not in stats:
            continue
        value = stats[key]
        if key == "win_rate":
            rows.append(_stat_row(label, key, value, f"{value:.2f} %"))
        else:
            rows.append(_stat_row(label + (unit if key in _AMOUNTS else ""), key, value))
    for error_type, count in (stats.get("error_breakdown") or {}).items():
        rows.append(_stat_row(f"Errors: {error_type}", f"error_breakdown.{error_type}", count))
    for asset, amount in (stats.get("unconverted_fees") or {}).items():
        rows.append(_stat_row(f"Fees not converted: {asset}", f"unconverted_fees.{asset}", amount))
    return f'<table class="stats"><tbody>{"".join(rows)}</tbody></table>'


def overview_html(found: Overview, stats: dict[str, Any]) -> str:
    """The summary section's body: statistics, records by kind, runs."""
    quote = found.quote_assets[0] if len(found.quote_assets) == 1 else ""
    parts = [
        '<div class="cols">',
        f"<div><h3>Summary statistics</h3>{summary_html(stats, quote)}</div>",
        "<div><h3>Records by kind</h3>",
        table(["kind", "records"], [*found.kinds, ("all", found.records)], css="compact"),
        "</div></div>",
        f"<h3>Runs ({found.run_count:,})</h3>",
        table(["run id", "service", "mode", "strategy", "records", "first", "last"], found.runs),
    ]
    if found.run_count > len(found.runs):
        parts.append(f'<p class="note">Showing the first {len(found.runs)} runs.</p>')
    return "".join(parts)
