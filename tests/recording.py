"""Test-side helpers shared by several test folders (a plain module: conftest names clash)."""

from __future__ import annotations

import tradetrace as tt
from tradetrace.exporters.memory import MemoryExporter


def flushed(rec: tt.Recorder, memory: MemoryExporter) -> list[tt.Record]:
    """Flush and return the memory exporter's records ordered by seq."""
    assert rec.flush(10), rec.health()
    return sorted(memory.records, key=lambda r: r.seq)
