"""Downsampling in SQL: at most ``max_points`` points per plotted series, whatever the size.

A browser draws a few thousand points per trace quickly and a million slowly, and a chart is
only ~1 400 pixels wide anyway. So DuckDB reduces each series before Python sees it:

* :func:`line_series` uses M4: the series' time range is cut into ``max_points // 4`` buckets
  and each bucket keeps its first, last, lowest and highest point. Every kept point is a real
  record (its seq is kept for the hover), and spikes survive, which plain averaging hides.
* :func:`count_series` is for categorical timelines (risk checks, errors by severity): records
  of one (series, category, bucket) become one point at the bucket's first record, with the
  number of records it stands for.

A series with at most ``max_points`` records is returned whole. Only the ``max_series`` series
with the most records are returned; the others are counted in :attr:`SeriesSet.omitted`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tradetrace.report.runner import SqlRunner

NS_PER_MS = 1_000_000


@dataclass
class Series:
    """One plotted series: ``x`` in milliseconds since the epoch (UTC), ``ids`` the seq of each
    point, ``counts`` how many records each point stands for (count series only), ``total``
    the number of records before downsampling."""

    name: str
    x: list[float] = field(default_factory=list)
    y: list[float | str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    total: int = 0

    @property
    def downsampled(self) -> bool:
        return len(self.x) < self.total


@dataclass
class SeriesSet:
    """The series of one query, largest first, and how many were left out."""

    series: list[Series]
    omitted: int = 0

    @property
    def total(self) -> int:
        return sum(item.total for item in self.series)

    @property
    def downsampled(self) -> bool:
        return any(item.downsampled for item in self.series)


def _check(max_points: int) -> None:
    if max_points < 8:
        raise ValueError(f"max_points must be at least 8, got {max_points}")


def line_series_sql(relation: str, max_points: int, max_series: int) -> str:
    """M4 over ``relation`` (columns ``series``, ``t`` ns, ``v`` number, ``id`` seq)."""
    _check(max_points)
    buckets = max_points // 4
    return f"""WITH s AS (
  SELECT CAST(series AS VARCHAR) AS series, CAST(t AS BIGINT) AS t, CAST(v AS DOUBLE) AS v,
    CAST(id AS BIGINT) AS id
  FROM ({relation}) AS r
  WHERE t IS NOT NULL AND v IS NOT NULL AND isfinite(CAST(v AS DOUBLE))
), b AS (
  SELECT series, count(*) AS n, min(t) AS lo, max(t) AS hi,
    row_number() OVER (ORDER BY count(*) DESC, series) AS rank, count(*) OVER () AS all_series
  FROM s GROUP BY series
), k AS (
  SELECT s.*, b.n, b.all_series,
    CASE WHEN b.n > {max_points} THEN CAST(floor((s.t - b.lo)
      / (CAST(b.hi - b.lo + 1 AS DOUBLE) / {buckets})) AS BIGINT) END AS bucket
  FROM s JOIN b USING (series) WHERE b.rank <= {max_series}
), m4 AS (
  SELECT series, any_value(n) AS n, any_value(all_series) AS all_series,
    [arg_min(t, (t, id)), arg_max(t, (t, id)), arg_min(t, (v, t, id)), arg_max(t, (v, t, id))]
      AS ts,
    [arg_min(v, (t, id)), arg_max(v, (t, id)), min(v), max(v)] AS vs,
    [arg_min(id, (t, id)), arg_max(id, (t, id)), arg_min(id, (v, t, id)),
      arg_max(id, (v, t, id))] AS ids
  FROM k WHERE bucket IS NOT NULL GROUP BY series, bucket
), points AS (
  SELECT series, n, all_series, t, v, id FROM k WHERE bucket IS NULL
  UNION ALL
  SELECT series, n, all_series, unnest(ts) AS t, unnest(vs) AS v, unnest(ids) AS id FROM m4
)
SELECT DISTINCT series, n, all_series, t, v, id FROM points ORDER BY n DESC, series, t, id"""


def count_series_sql(relation: str, max_points: int, max_series: int) -> str:
    """Counts per bucket over ``relation`` (``series``, ``cat``, ``t`` ns, ``id``, ``label``)."""
    _check(max_points)
    return f"""WITH s AS (
  SELECT CAST(series AS VARCHAR) AS series, CAST(cat AS VARCHAR) AS cat, CAST(t AS BIGINT) AS t,
    CAST(id AS BIGINT) AS id, CAST(label AS VARCHAR) AS label
  FROM ({relation}) AS r WHERE t IS NOT NULL
), b AS (
  SELECT series, count(*) AS n, min(t) AS lo, max(t) AS hi,
    greatest(1, {max_points} // count(DISTINCT coalesce(cat, ''))) AS buckets,
    row_number() OVER (ORDER BY count(*) DESC, series) AS rank, count(*) OVER () AS all_series
  FROM s GROUP BY series
), k AS (
  SELECT s.*, b.n, b.all_series, b.n <= {max_points} AS whole,
    CAST(floor((s.t - b.lo) / (CAST(b.hi - b.lo + 1 AS DOUBLE) / b.buckets)) AS BIGINT)
      AS bucket
  FROM s JOIN b USING (series) WHERE b.rank <= {max_series}
), points AS (
  SELECT series, n, all_series, cat, t, 1 AS c, id, label FROM k WHERE whole
  UNION ALL
  SELECT series, any_value(n), any_value(all_series), cat, min(t), count(*),
    arg_min(id, (t, id)), arg_min(label, (t, id))
  FROM k WHERE NOT whole GROUP BY series, cat, bucket
)
SELECT series, n, all_series, cat, t, c, id, label FROM points ORDER BY n DESC, series, t, id"""


def line_series(
    source: SqlRunner, relation: str, max_points: int, max_series: int = 12
) -> SeriesSet:
    """The M4-downsampled series of ``relation``; see :func:`line_series_sql`."""
    rows = source.sql(line_series_sql(relation, max_points, max_series)).fetchall()
    found: dict[str, Series] = {}
    all_series = rows[0][2] if rows else 0
    for name, n, _, t, v, seq in rows:
        item = found.get(name)
        if item is None:
            item = found[name] = Series(name, total=n)
        item.x.append(t / NS_PER_MS)
        item.y.append(v)
        item.ids.append(seq)
    return SeriesSet(list(found.values()), max(0, all_series - len(found)))


def count_series(
    source: SqlRunner, relation: str, max_points: int, max_series: int = 12
) -> SeriesSet:
    """Records counted per (series, category, bucket); see :func:`count_series_sql`."""
    rows = source.sql(count_series_sql(relation, max_points, max_series)).fetchall()
    found: dict[str, Series] = {}
    all_series = rows[0][2] if rows else 0
    for name, n, _, cat, t, count, seq, label in rows:
        item = found.get(name)
        if item is None:
            item = found[name] = Series(name, total=n)
        item.x.append(t / NS_PER_MS)
        item.y.append(cat if cat is not None else "")
        item.counts.append(count)
        item.ids.append(seq)
        item.labels.append(label or "")
    return SeriesSet(list(found.values()), max(0, all_series - len(found)))
