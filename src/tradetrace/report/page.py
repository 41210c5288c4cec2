"""The report page: one self-contained HTML document with its styles and scripts inline.

Order in the document: the sections' HTML first (tables show while the rest loads), then the
Plotly bundle, the figures as one JSON block and a small script that draws them. That script
also leaves a trace a test (or a curious reader) can check without a debugger:

* ``#tt-errors`` receives every script error (``window.onerror``), failed resource load and
  unhandled promise rejection, and becomes visible when it is not empty;
* once every ``Plotly.newPlot`` promise has resolved, ``#tt-plot-sizes`` holds the JSON list
  of each chart's id, size and whether Plotly took it over, and ``<body data-plots-ready>``
  the number of charts drawn (``data-plots-expected`` says how many there are).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from tradetrace.report.figures import Figure
from tradetrace.report.markup import esc, notes

STYLE = """
:root { --ink: #1f2933; --dim: #616e7c; --line: #e4e7eb; --good: #1a7f37; --bad: #c62828;
  --wait: #b26a00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #f5f7fa; }
header { background: #102a43; color: #f0f4f8; padding: 18px 28px 14px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header .meta { color: #bcccdc; font-size: 13px; }
header .meta b { color: #f0f4f8; font-weight: 600; }
nav { position: sticky; top: 0; z-index: 5; background: #fff; border-bottom: 1px solid var(--line);
  padding: 6px 28px; font-size: 13px; }
nav a { color: #334e68; margin-right: 14px; text-decoration: none; }
nav a:hover { text-decoration: underline; }
main { max-width: 1440px; margin: 0 auto; padding: 8px 20px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px;
  margin: 16px 0; padding: 12px 18px 14px; }
section > h2 { margin: 0 0 8px; font-size: 17px; font-weight: 600; }
h3 { font-size: 14px; margin: 10px 0 6px; }
.plot { width: 100%; min-height: 160px; }
.note { color: var(--dim); font-size: 12px; margin: 4px 0; }
.empty { color: var(--dim); font-style: italic; }
.dim { color: var(--dim); font-size: 11px; }
.cols { display: flex; flex-wrap: wrap; gap: 32px; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 4px; text-align: left;
  vertical-align: top; }
thead th { background: #f0f4f8; position: sticky; top: 33px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.stats th { font-weight: 500; color: #334e68; padding-right: 24px; }
table.stats td { font-weight: 600; min-width: 120px; }
table.inner { font-size: 12px; margin: 6px 0 4px; }
table.inner thead th { position: static; }
.scroll { overflow-x: auto; }
tr.bundle > td { background: #fbfaf0; }
details > summary { cursor: pointer; }
code { font-size: 12px; background: #f0f4f8; padding: 0 3px; border-radius: 3px; }
.tag { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px;
  font-weight: 600; color: #fff; }
.tag.good { background: var(--good); } .tag.bad { background: var(--bad); }
.tag.wait { background: var(--wait); }
.badge { display: inline-block; margin-top: 10px; padding: 5px 12px; border-radius: 5px;
  font-weight: 600; color: #fff; text-decoration: none; }
.badge.ok { background: var(--good); }
.badge.bad { background: var(--bad); }
.badge.bad ul { margin: 6px 0 2px; padding-left: 20px; font-weight: 400; }
pre.verify { background: #f0f4f8; padding: 10px; overflow-x: auto; font-size: 12px; }
#tt-errors:not([hidden]) { display: block; margin: 0; padding: 10px 28px; color: #fff;
  background: var(--bad); white-space: pre-wrap; }
footer { color: var(--dim); font-size: 12px; text-align: center; padding: 12px; }
"""

#: Runs first: records script errors, failed loads and rejected promises into ``#tt-errors``.
ERROR_SCRIPT = """(function () {
  var box = document.getElementById("tt-errors");
  function report(text) { box.textContent += text + "\\n"; box.hidden = false; }
  window.ttError = report;
  window.onerror = function (message, source, line, column) {
    report("script error: " + message + " (" + source + ":" + line + ":" + column + ")");
  };
  window.addEventListener("error", function (event) {
    var target = event.target;
    if (target && target !== window && target.nodeType === 1) {
      report("failed to load " + (target.src || target.href || target.tagName));
    }
  }, true);
  window.addEventListener("unhandledrejection", function (event) {
    var reason = event.reason;
    report("unhandled promise rejection: " + (reason && reason.message ? reason.message : reason));
  });
})();"""

#: Runs last: draws every figure, then records the charts' sizes and the ready marker.
DRAW_SCRIPT = """(function () {
  if (typeof Plotly === "undefined") { window.ttError("Plotly did not load"); return; }
  var figures = JSON.parse(document.getElementById("tt-figures").textContent);
  var config = { displaylogo: false, responsive: true, showLink: false };
  Promise.all(figures.map(function (figure) {
    var div = document.getElementById(figure.id);
    return Plotly.newPlot(div, figure.data, figure.layout, config).then(function () {
      return div;
    });
  })).then(function (divs) {
    var sizes = divs.map(function (div) {
      var box = div.getBoundingClientRect();
      return { id: div.id, width: Math.round(box.width), height: Math.round(box.height),
               plotly: div.classList.contains("js-plotly-plot"), traces: div.data.length };
    });
    document.getElementById("tt-plot-sizes").textContent = JSON.stringify(sizes);
    document.body.dataset.plotsReady = String(divs.length);
  }, function (error) {
    window.ttError("plotting failed: " + (error && error.message ? error.message : error));
  });
})();"""


@dataclass
class Section:
    """One section of the page: its anchor, heading and HTML body."""

    id: str
    title: str
    body: str


def figure_html(figure: Figure) -> str:
    """The div a figure is drawn into, with its notes under it."""
    return f'<div class="plot" id="{esc(figure.id)}"></div>{notes(figure.notes)}'


def script(code: str) -> str:
    """``code`` in a ``<script>`` element (a ``</script`` inside it is escaped)."""
    return "<script>" + code.replace("</script", "<\\/script") + "</script>"


def figures_json(figures: Sequence[Figure]) -> str:
    """The figures as JSON safe inside ``<script type="application/json">``."""
    text = orjson.dumps([figure.plotly() for figure in figures]).decode("utf-8")
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(
    *,
    title: str,
    meta: str,
    badge: str,
    sections: Sequence[Section],
    figures: Sequence[Figure],
    plotly_js: str,
    footer: str,
) -> str:
    """The whole document."""
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="tradetrace report"><title>{esc(title)}</title>'
        f"<style>{STYLE}</style></head>\n"
        f'<body data-plots-expected="{len(figures)}">'
        '<pre id="tt-errors" hidden></pre><pre id="tt-plot-sizes" hidden></pre>'
        f"{script(ERROR_SCRIPT)}\n"
        f'<header><h1>{esc(title)}</h1><div class="meta">{meta}</div>{badge}</header>'
        f"<nav>{nav}</nav><main>{body}</main><footer>{footer}</footer>\n"
        f"{script(plotly_js)}\n"
        f'<script type="application/json" id="tt-figures">{figures_json(figures)}</script>\n'
        f"{script(DRAW_SCRIPT)}\n"
        "</body></html>\n"
    )
