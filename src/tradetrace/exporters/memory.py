"""In-memory exporter: keeps every record in ``.records`` (for tests and notebooks)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from tradetrace.exporters.base import BaseExporter, ExportResult
from tradetrace.pipeline.run import Run
from tradetrace.records import Record


class MemoryExporter(BaseExporter):
    """Appends every exported record to :attr:`records`; :attr:`runs` lists opened runs."""

    name = "memory"
    durable_on_export = True  # a returned export is in the sink (spool mode acks it)

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.runs: list[Run] = []
        self.batches = 0
        self._lock = threading.Lock()

    def open(self, run: Run) -> None:
        self.runs.append(run)

    def export(self, batch: Sequence[Record]) -> ExportResult:
        with self._lock:
            self.records.extend(batch)
            self.batches += 1
        return ExportResult.SUCCESS

    def clear(self) -> None:
        with self._lock:
            self.records.clear()

    def after_fork(self) -> None:
        self.records = []
        self.runs = []
        self._lock = threading.Lock()
