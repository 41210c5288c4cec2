"""Shared fixtures: an explicit Recorder with an in-memory exporter (no global state)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tradetrace as tt
from tradetrace.exporters.memory import MemoryExporter


@pytest.fixture
def memory() -> MemoryExporter:
    return MemoryExporter()


@pytest.fixture
def recorder(memory: MemoryExporter, tmp_path: Path) -> Iterator[tt.Recorder]:
    rec = tt.Recorder(
        service_name="test", exporters=(memory,), directory=tmp_path, schedule_delay=0.01
    )
    yield rec
    rec.shutdown(5)
