"""The report's charts as Plotly figure JSON (plain dicts), built from the SQL views.

Each builder runs its downsampling query (see :mod:`tradetrace.report.downsample`) and returns
a :class:`Figure`: traces and layout ready for ``Plotly.newPlot``, plus notes shown under the
chart (how much was downsampled, which series were left out). No Plotly Python object is made:
a million records cost two SQL queries per chart, not a million Python objects.

Times are milliseconds since the epoch on a date axis (UTC). Series are split by run when the
source holds more than one run.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

from tradetrace.report.downsample import Series, SeriesSet, count_series, line_series
from tradetrace.report.runner import SqlRunner, one_row

#: Severities in the order of the timeline's y axis (others follow, alphabetically).
SEVERITY_ORDER: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: At most this many price charts (one per symbol, the symbols with the most fills).
MAX_PRICE_CHARTS = 4
BUY_COLOR, SELL_COLOR = "#1a9850", "#d73027"
_HOVER_SEQ = (
    "%{x|%Y-%m-%d %H:%M:%S.%L}<br>%{y}<br>seq #%{customdata}<extra>%{fullData.name}</extra>"
)


@dataclass
class Figure:
    """One chart: its div id, Plotly traces and layout, and notes for the reader."""

    id: str
    title: str
    data: list[dict[str, Any]] = field(default_factory=list)
    layout: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def plotly(self) -> dict[str, Any]:
        """The JSON the page's script passes to ``Plotly.newPlot``."""
        return {"id": self.id, "data": self.data, "layout": self.layout}


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def base_layout(y_title: str = "", **extra: Any) -> dict[str, Any]:
    """The layout every time chart shares: date x axis, legend on top, tight margins."""
    layout: dict[str, Any] = {
        "height": 360,
        "margin": {"l": 70, "r": 70, "t": 30, "b": 40},
        "hovermode": "closest",
        "legend": {"orientation": "h", "x": 0, "y": 1.12},
        "xaxis": {"type": "date", "title": {"text": "time (UTC)"}},
        "yaxis": {"title": {"text": y_title}, "zeroline": False},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#fafbfc",
    }
    layout.update(extra)
    return layout


def empty(figure: Figure, message: str) -> Figure:
    """``figure`` with no data and ``message`` in its middle."""
    figure.data = []
    figure.layout = {
        "height": 160,
        "margin": {"l": 20, "r": 20, "t": 20, "b": 20},
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "annotations": [{"text": message, "showarrow": False, "font": {"size": 14}}],
    }
    return figure


def series_notes(sets: list[SeriesSet], max_points: int, what: str = "points") -> list[str]:
    """What the reader should know about the plotted series: downsampling, omitted series."""
    notes: list[str] = []
    if any(s.downsampled for s in sets):
        shown = sum(len(item.x) for s in sets for item in s.series)
        total = sum(s.total for s in sets)
        notes.append(
            f"Downsampled in SQL for plotting (first, last, min and max of each time bucket, "
            f"at most {max_points:,} points per series): {shown:,} of {total:,} {what} drawn."
        )
    omitted = sum(s.omitted for s in sets)
    if omitted:
        notes.append(f"{omitted:,} smaller series not drawn.")
    return notes


def plotly_text(text: str) -> str:
    """``text`` for a Plotly label: Plotly reads ``<b>``-style tags and entities in it."""
    return html.escape(text, quote=False)


def line_trace(item: Series, **style: Any) -> dict[str, Any]:
    """A scatter trace of ``item`` (lines unless ``mode`` is given), seq in the hover."""
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines",
        "name": plotly_text(item.name),
        "x": item.x,
        "y": item.y,
        "customdata": item.ids,
        "hovertemplate": _HOVER_SEQ,
    }
    trace.update(style)
    return trace


class FigureBuilder:
    """Builds every chart of the report over one open source."""

    def __init__(self, source: SqlRunner, max_points: int) -> None:
        self.source = source
        self.max_points = max_points
        (runs,) = one_row(source, "SELECT count(DISTINCT run_id) FROM records")
        self._run = "run_id || ' · ' || " if runs > 1 else ""

    def _lines(self, series: str, value: str, where: str = "", view: str = "fills") -> SeriesSet:
        condition = f"WHERE {where}" if where else ""
        relation = (
            f"SELECT {self._run}{series} AS series, time_ns AS t, {value} AS v, seq AS id "
            f"FROM {view} {condition}"
        )
        return line_series(self.source, relation, self.max_points)

    def equity(self) -> Figure:
        """Equity after each fill and cumulative net PnL (realized PnL less fees), per run."""
        figure = Figure("tt-equity", "Equity and cumulative net PnL")
        equity = self._lines("'equity'", "equity_after", "equity_after IS NOT NULL")
        pnl = self._lines(
            "'cumulative net PnL'",
            "sum(coalesce(realized_pnl, 0) - coalesce(fee_quote, 0)) OVER ("
            "PARTITION BY run_id ORDER BY time_ns, seq "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)",
        )
        if not equity.series and not pnl.series:
            return empty(figure, "No fills in this source.")
        figure.data = [line_trace(s, line={"width": 1.5}) for s in equity.series]
        figure.data += [
            line_trace(s, yaxis="y2", line={"width": 1.5, "dash": "dot"}) for s in pnl.series
        ]
        figure.layout = base_layout(
            "equity",
            yaxis2={"title": {"text": "net PnL (quote)"}, "overlaying": "y", "side": "right",
                    "zeroline": True, "showgrid": False},
        )  # fmt: skip
        figure.notes = series_notes([equity, pnl], self.max_points)
        return figure

    def inventory(self) -> Figure:
        """Inventory (position) after each fill, per symbol."""
        figure = Figure("tt-inventory", "Inventory")
        inventory = self._lines(
            "coalesce(symbol, '(no symbol)')", "inventory_after", "inventory_after IS NOT NULL"
        )
        if not inventory.series:
            return empty(figure, "No fills with an inventory in this source.")
        figure.data = [line_trace(s, line={"shape": "hv", "width": 1.5}) for s in inventory.series]
        figure.layout = base_layout("inventory (base asset)")
        figure.notes = series_notes([inventory], self.max_points)
        return figure

    def prices(self) -> list[Figure]:
        """One chart per symbol (the most traded first): fill prices, buys and sells marked."""
        rows = self.source.sql(
            "SELECT coalesce(symbol, '') AS symbol, count(*) AS n FROM fills "
            "WHERE price IS NOT NULL GROUP BY 1 ORDER BY n DESC, symbol"
        ).fetchall()
        if not rows:
            return [empty(Figure("tt-price-0", "Fills"), "No fills with a price in this source.")]
        figures = []
        for index, (symbol, _) in enumerate(rows[:MAX_PRICE_CHARTS]):
            figures.append(self._price(index, symbol))
        if len(rows) > MAX_PRICE_CHARTS:
            figures[-1].notes.append(
                f"{len(rows) - MAX_PRICE_CHARTS} more symbol(s) with fills not charted: "
                + ", ".join(symbol or "(no symbol)" for symbol, _ in rows[MAX_PRICE_CHARTS:][:20])
            )
        return figures

    def _price(self, index: int, symbol: str) -> Figure:
        figure = Figure(f"tt-price-{index}", f"Fills: {symbol or '(no symbol)'}")
        of_symbol = f"coalesce(symbol, '') = {literal(symbol)} AND price IS NOT NULL"
        line = self._lines("'fill price'", "price", of_symbol)
        buys = self._lines("'buy'", "price", f"{of_symbol} AND upper(side) = 'BUY'")
        sells = self._lines("'sell'", "price", f"{of_symbol} AND upper(side) = 'SELL'")
        figure.data = [
            line_trace(s, line={"width": 1, "color": "#9aa5b1"}, opacity=0.7) for s in line.series
        ]
        for sides, color, marker in ((buys, BUY_COLOR, "triangle-up"),
                                     (sells, SELL_COLOR, "triangle-down")):  # fmt: skip
            figure.data += [
                line_trace(s, mode="markers",
                           marker={"symbol": marker, "size": 8, "color": color,
                                   "line": {"width": 0.5, "color": "#333"}})
                for s in sides.series
            ]  # fmt: skip
        figure.layout = base_layout(plotly_text(f"price ({symbol or 'no symbol'})"))
        figure.notes = series_notes([line, buys, sells], self.max_points, "fills")
        return figure

    def fees(self) -> Figure:
        """Fees by day and fee asset (by month when there are more days than ``max_points``)."""
        figure = Figure("tt-fees", "Fees by day and asset")
        (days,) = one_row(
            self.source,
            "SELECT count(DISTINCT CAST(time AS DATE)) FROM fills WHERE fee IS NOT NULL",
        )
        if not days:
            return empty(figure, "No fees in this source.")
        period, unit = ("%Y-%m-%d", "day") if days <= self.max_points else ("%Y-%m", "month")
        rows = self.source.sql(
            f"SELECT strftime(CAST(time AS DATE), '{period}') AS period, "
            "upper(coalesce(fee_asset, quote_asset, '?')) AS asset, "
            "CAST(sum(fee) AS DOUBLE) AS fees, count(*) AS fills FROM fills "
            "WHERE fee IS NOT NULL GROUP BY ALL ORDER BY asset, period"
        ).fetchall()
        by_asset: dict[str, tuple[list[str], list[float], list[int]]] = {}
        for period_text, asset, fees, fills in rows:
            x, y, n = by_asset.setdefault(asset, ([], [], []))
            x.append(period_text)
            y.append(fees)
            n.append(fills)
        figure.data = [
            {"type": "bar", "name": plotly_text(asset), "x": x, "y": y, "customdata": n,
             "hovertemplate": "%{x}<br>%{y} %{fullData.name}<br>%{customdata} fills"
                              "<extra>%{fullData.name}</extra>"}
            for asset, (x, y, n) in by_asset.items()
        ]  # fmt: skip
        figure.layout = base_layout(
            "fees (in the fee asset)",
            barmode="group",
            xaxis={"type": "category", "title": {"text": f"{unit} (UTC)"}},
        )
        if unit == "month":
            figure.notes.append(f"{days:,} days: fees summed by month.")
        return figure

    def spreads(self) -> Figure:
        """Bid and ask spreads of the decisions that computed them."""
        figure = Figure("tt-spreads", "Spread decisions")
        symbol = "coalesce(symbol || ' ', '')"
        bid = self._lines(f"{symbol} || 'bid spread'", "bid_spread",
                          "bid_spread IS NOT NULL", view="decisions")  # fmt: skip
        ask = self._lines(f"{symbol} || 'ask spread'", "ask_spread",
                          "ask_spread IS NOT NULL", view="decisions")  # fmt: skip
        if not bid.series and not ask.series:
            return empty(figure, "No decision with a bid or ask spread in this source.")
        figure.data = [line_trace(s, line={"width": 1.2, "color": BUY_COLOR}) for s in bid.series]
        figure.data += [line_trace(s, line={"width": 1.2, "color": SELL_COLOR}) for s in ask.series]
        figure.layout = base_layout("spread")
        figure.notes = series_notes([bid, ask], self.max_points, "decisions")
        return figure

    def timeline(self) -> Figure:
        """Risk checks (passed / failed) and errors on a time line, one row per severity."""
        figure = Figure("tt-timeline", "Risk checks and errors")
        relation = """SELECT CASE WHEN passed THEN 'risk check passed'
    WHEN NOT passed THEN 'risk check failed' ELSE 'risk check' END AS series,
  upper(coalesce(severity, 'INFO')) AS cat, time_ns AS t, seq AS id,
  coalesce(check_name, name) AS label
FROM risk_checks
UNION ALL
SELECT 'error' AS series, upper(coalesce(severity, 'ERROR')) AS cat, time_ns AS t, seq AS id,
  coalesce(error_type, name) || coalesce(': ' || message, '') AS label
FROM errors"""
        found = count_series(self.source, relation, self.max_points)
        if not found.series:
            return empty(figure, "No risk checks or errors in this source.")
        styles = {
            "risk check passed": {"color": "#8fa3b8", "symbol": "circle", "opacity": 0.6},
            "risk check failed": {"color": "#f46d43", "symbol": "diamond"},
            "risk check": {"color": "#74add1", "symbol": "circle"},
            "error": {"color": SELL_COLOR, "symbol": "x"},
        }
        present = {cat for item in found.series for cat in item.y}
        order = [s for s in SEVERITY_ORDER if s in present]
        order += sorted(str(s) for s in present - set(SEVERITY_ORDER))
        for item in found.series:
            style = dict(styles.get(item.name, {}))
            opacity = style.pop("opacity", 0.9)
            figure.data.append({
                "type": "scatter", "mode": "markers", "name": plotly_text(item.name),
                "x": item.x, "y": item.y, "opacity": opacity,
                "customdata": [[seq, count, plotly_text(label[:200])] for seq, count, label
                               in zip(item.ids, item.counts, item.labels, strict=True)],
                "marker": {**style, "size": [7 + 3 * math.log10(c) for c in item.counts],
                           "line": {"width": 0.5, "color": "#333"}},
                "hovertemplate": "%{x|%Y-%m-%d %H:%M:%S.%L} %{y}<br>%{customdata[2]}<br>"
                                 "seq #%{customdata[0]}, %{customdata[1]} record(s) here"
                                 "<extra>%{fullData.name}</extra>",
            })  # fmt: skip
        figure.layout = base_layout(
            "severity",
            yaxis={"type": "category", "categoryorder": "array", "categoryarray": order,
                   "title": {"text": "severity"}},
            height=max(220, 90 + 45 * len(order)),
        )  # fmt: skip
        if found.downsampled:
            shown = sum(len(item.x) for item in found.series)
            figure.notes.append(
                f"{found.total:,} records drawn as {shown:,} points: records of one severity "
                "close in time are merged into one point (a bigger marker stands for more)."
            )
        return figure

    def all(self) -> list[Figure]:
        """Every chart, in page order."""
        return [
            self.equity(),
            self.inventory(),
            *self.prices(),
            self.fees(),
            self.spreads(),
            self.timeline(),
        ]
