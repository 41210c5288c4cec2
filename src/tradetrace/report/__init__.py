"""``tradetrace report``: one self-contained HTML file of charts and tables over a SOURCE.

Charts are drawn by plotly.js, inlined once into the page (~4.8 MB, from the ``plotly`` PyPI
package's offline bundle): traders get interactive zoom, pan and hover with the seq of each
point, and the file opens anywhere, offline, with no CDN. (Static images, matplotlib's, cannot
be zoomed; Bokeh or Vega-Lite would inline several bundles for the same.) Python builds no
plotly figure objects: figures are plain JSON from SQL, downsampled in DuckDB to at most
``max_points`` points per series (:mod:`tradetrace.report.downsample`), and a small inline
script calls ``Plotly.newPlot``. Tables are paged (the first rows, with counts), so a source
of a million records renders in seconds into a file of a few megabytes.

Modules: ``downsample`` (SQL reduction), ``figures`` (chart JSON), ``overview`` (summary
statistics, runs), ``ledger`` (events and bundles), ``incidents`` (errors, failed checks),
``verification`` (the badge), ``markup`` (HTML cells and tables), ``page`` (the document and
its scripts), ``writer`` (:func:`write_report`).
"""

from tradetrace.report.writer import write_report

__all__ = ["write_report"]
