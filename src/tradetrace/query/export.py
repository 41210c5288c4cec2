"""``tradetrace export``: write the records of a SOURCE, or a slice of them, as new exports.

The chosen records (``start <= time < end``, of the given kinds) are read from the ``records``
view in chunks, rebuilt into Records and handed to the exporter of the target format, so the
output has exactly the layout that exporter writes live (``OUTDIR/csv/...``,
``OUTDIR/json/...``, ``OUTDIR/parquet/...``) and is itself a SOURCE. Records keep their run,
seq, times and attributes; each run's resource comes from the source's ``runs`` when it was
written, and files are named after its service (``tradetrace`` when unknown).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson

from tradetrace import semconv as sc
from tradetrace.exporters.base import Exporter, ExportResult
from tradetrace.exporters.registry import FACTORIES
from tradetrace.pipeline.clock import to_ns
from tradetrace.pipeline.run import Run
from tradetrace.query.readers import RUN_COLUMNS
from tradetrace.query.rebuild import RecordBuilder
from tradetrace.query.source import Source
from tradetrace.records import Record

#: Target formats: the name on the command line -> the exporter that writes it.
TARGETS: dict[str, str] = {"parquet": "parquet", "json": "jsonl", "csv": "csv", "duckdb": "duckdb"}
DEFAULT_SERVICE = "tradetrace"
Progress = Callable[[int, int], None]


def available_targets() -> tuple[str, ...]:
    """The targets whose exporter is installed."""
    return tuple(name for name, exporter in TARGETS.items() if exporter in FACTORIES)


@dataclass(frozen=True)
class ExportSummary:
    """What ``export_records`` wrote."""

    records: int
    directory: Path
    services: tuple[str, ...]


def selection(
    start: Any = None, end: Any = None, kinds: Iterable[str] | None = None
) -> tuple[str, list[Any]]:
    """A WHERE clause (and its parameters) for ``start <= time < end`` and ``kinds``."""
    conditions, parameters = ["true"], []
    if start is not None:
        conditions.append("time_ns >= ?")
        parameters.append(to_ns(start))
    if end is not None:
        conditions.append("time_ns < ?")
        parameters.append(to_ns(end))
    if kinds is not None:
        wanted = sorted({sc.RecordKind(kind).value for kind in kinds})
        conditions.append(f"kind IN ({', '.join('?' for _ in wanted)})")
        parameters.extend(wanted)
    return " AND ".join(conditions), parameters


def _runs(source: Source) -> dict[str, Run]:
    names = [name for name, _ in RUN_COLUMNS]
    runs: dict[str, Run] = {}
    for row in source.sql(f"SELECT {', '.join(names)} FROM runs").fetchall():
        values = dict(zip(names, row, strict=True))
        if not values["run_id"] or not values["service_name"] or not values["mode"]:
            continue
        extra = values.get("extra")
        values["extra"] = orjson.loads(extra) if isinstance(extra, str) else (extra or {})
        present = {key: value for key, value in values.items() if value is not None}
        runs[values["run_id"]] = Run(**present)
    return runs


def export_records(
    source: Source,
    target: str,
    directory: str | Path,
    *,
    start: Any = None,
    end: Any = None,
    kinds: Iterable[str] | None = None,
    chunk_size: int = 50_000,
    progress: Progress | None = None,
    timeout: float = 60.0,
) -> ExportSummary:
    """Write the selected records of ``source`` to ``directory`` in ``target`` format.

    ``progress(done, total)`` is called after each chunk. Raises ``ValueError`` for an unknown
    target and ``RuntimeError`` when the exporter fails a batch.
    """
    if target not in available_targets():
        raise ValueError(
            f"unknown target {target!r}: choose one of {', '.join(available_targets())}"
        )
    out = Path(directory)
    where, parameters = selection(start, end, kinds)
    ((total,),) = source.connection.execute(
        f"SELECT count(*) FROM records WHERE {where}", parameters
    ).fetchall()
    runs = _runs(source)
    factory = FACTORIES[TARGETS[target]]
    exporters: dict[str, Exporter] = {}
    opened: set[str] = set()
    cursor = source.connection.execute(
        f"SELECT * FROM records WHERE {where} ORDER BY time_ns, run_id, seq", parameters
    )
    build = RecordBuilder([d[0] for d in cursor.description])
    done = 0
    if progress is not None:
        progress(0, total)
    try:
        while rows := cursor.fetchmany(chunk_size):
            batches: dict[str, list[Record]] = {}
            for record in map(build, rows):
                run = runs.get(record.run_id)
                service = run.service_name if run is not None else DEFAULT_SERVICE
                exporter = exporters.get(service)
                if exporter is None:
                    exporter = exporters[service] = factory(out, service)
                if run is not None and record.run_id not in opened:
                    opener = getattr(exporter, "open", None)
                    if opener is not None:
                        opener(run)
                    opened.add(record.run_id)
                batches.setdefault(service, []).append(record)
            for service, batch in batches.items():
                if exporters[service].export(batch) is not ExportResult.SUCCESS:
                    raise RuntimeError(f"the {target} exporter failed a batch of {len(batch)}")
            done += len(rows)
            if progress is not None:
                progress(done, total)
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            cursor.abort()
        raise
    finally:
        for exporter in exporters.values():
            exporter.shutdown(timeout)
    return ExportSummary(done, out, tuple(sorted(exporters)))
