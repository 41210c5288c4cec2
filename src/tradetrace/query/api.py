"""``tt.query``, ``tt.summary`` and ``tt.verify``: SQL, the seed's statistics and completeness
checks over any SOURCE (a DuckDB file or a directory of CSV / JSON Lines / Parquet exports).

``source`` defaults to the directory of the Recorder made by ``tradetrace.configure`` (or
``tradetrace-data``, the Recorder's default). An open :class:`Source` may be passed instead, to
run several queries without opening the files again. Call ``tt.flush()`` first to include
records still queued: the query side reads what the exporters wrote, nothing else.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradetrace.query.render import plain_decimal
from tradetrace.query.source import Source, open_source
from tradetrace.query.verify import VerifyReport, verify_connection

SourceArg = str | os.PathLike[str] | Source | None
DEFAULT_DIRECTORY = "tradetrace-data"


def default_source() -> Path:
    """The configured Recorder's directory, else ``tradetrace-data``."""
    from tradetrace import api as recording

    recorder = getattr(recording, "_global", None)
    return Path(recorder.directory) if recorder is not None else Path(DEFAULT_DIRECTORY)


def _open(source: SourceArg, format: str | None) -> Source:
    if isinstance(source, Source):
        return source
    return open_source(source if source is not None else default_source(), format=format)


def query(sql: str, source: SourceArg = None, *, format: str | None = None) -> Any:
    """Run ``sql`` over ``source``; returns a ``duckdb.DuckDBPyRelation`` (``.df()``,
    ``.fetchall()``, ``.arrow()``, ``.pl()``), or None for a statement without a result.

    Views: ``records`` (every record, ``semconv.TABLE_COLUMNS``), ``fills``, ``orders``,
    ``decisions``, ``risk_checks``, ``errors``, ``events``, ``spans``, ``event_status``,
    ``bundles``, ``pnl_daily``, ``summary`` and ``runs``.
    """
    return _open(source, format).sql(sql)


def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain_decimal(value)
    if isinstance(value, dict):
        return {key: _value(item) for key, item in value.items()}
    return value


def summary(source: SourceArg = None, *, format: str | None = None) -> dict[str, Any]:
    """The seed logger's ``get_summary_stats()`` over ``source``.

    ``total_trades``, ``winning_trades`` (realized PnL > 0), ``losing_trades`` (< 0; a zero-PnL
    trade is neither), ``win_rate`` (percent of all trades), ``total_pnl``, ``total_fees`` (in
    the quote currency, see :mod:`tradetrace.query.views`), ``net_pnl``, ``total_decisions``,
    ``total_errors``, ``error_breakdown`` ({error type: count}), and ``unconverted_fees``
    ({asset: amount} of fees in neither the base nor the quote asset, left out of the totals).
    Amounts are exact Decimals.
    """
    opened = _open(source, format)
    try:
        relation = opened.sql("SELECT * FROM summary")
        (row,) = relation.fetchall()  # the summary view always has one row
        return {name: _value(value) for name, value in zip(relation.columns, row, strict=True)}
    finally:
        if opened is not source:
            opened.close()


def verify(source: SourceArg = None, *, format: str | None = None) -> VerifyReport:
    """Check every run in ``source`` for gaps, duplicates, orphans and unknown events; see
    :mod:`tradetrace.query.verify`. ``report.ok`` is True when nothing is wrong and
    ``str(report)`` is a readable report."""
    opened = _open(source, format)
    try:
        return verify_connection(opened.connection, opened.describe())
    finally:
        if opened is not source:
            opened.close()
