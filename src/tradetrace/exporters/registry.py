"""Exporters by name: what ``configure(exporters=("csv", "jsonl", ...))`` builds."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from tradetrace.exporters.base import Exporter

Factory = Callable[[Path, str], Exporter]


def _csv(directory: Path, service: str) -> Exporter:
    from tradetrace.exporters.csv import CsvExporter

    return CsvExporter(directory / "csv", service)


def _jsonl(directory: Path, service: str) -> Exporter:
    from tradetrace.exporters.jsonl import JsonLinesExporter

    return JsonLinesExporter(directory / "json", service)


def _duckdb(directory: Path, service: str) -> Exporter:
    from tradetrace.exporters.duckdb import DuckDBExporter

    return DuckDBExporter(directory / "tradetrace.duckdb")


def _parquet(directory: Path, service: str) -> Exporter:
    from tradetrace.exporters.parquet import ParquetExporter

    return ParquetExporter(directory / "parquet")


def _otlp(directory: Path, service: str) -> Exporter:
    from tradetrace.exporters.otlp import OtlpExporter

    return OtlpExporter()  # configured by the OTEL_* environment variables


def _memory(directory: Path, service: str) -> Exporter:
    from tradetrace.exporters.memory import MemoryExporter

    return MemoryExporter()


def _console(directory: Path, service: str) -> Exporter:
    from tradetrace.exporters.console import ConsoleExporter

    return ConsoleExporter()


FACTORIES: dict[str, Factory] = {
    "csv": _csv,
    "jsonl": _jsonl,
    "json": _jsonl,
    "duckdb": _duckdb,
    "parquet": _parquet,
    "otlp": _otlp,
    "memory": _memory,
    "console": _console,
}


def build_exporters(
    specs: Iterable[str | Exporter], *, directory: Path, service_name: str
) -> tuple[Exporter, ...]:
    """Exporter instances from names or instances; names made unique (``csv``, ``csv-2``)."""
    if isinstance(specs, (str, bytes)):
        raise TypeError(f"exporters={specs!r}: pass a sequence, e.g. ({specs!r},)")
    built: list[Exporter] = []
    seen: set[str] = set()
    for spec in specs:
        if isinstance(spec, str):
            factory = FACTORIES.get(spec)
            if factory is None:
                known = ", ".join(sorted(FACTORIES))
                raise ValueError(f"unknown exporter {spec!r}; known exporters: {known}")
            exporter = factory(directory, service_name)
        elif callable(getattr(spec, "export", None)):
            exporter = spec
        else:
            raise TypeError(f"{spec!r} is neither an exporter name nor an exporter")
        name = getattr(exporter, "name", type(exporter).__name__)
        unique, n = name, 1
        while unique in seen:
            n += 1
            unique = f"{name}-{n}"
        if unique != name:
            exporter.name = unique
        seen.add(unique)
        built.append(exporter)
    return tuple(built)
