"""Test-side helpers shared by several test folders (a plain module: conftest names clash)."""

from __future__ import annotations

import tradetrace as tt
from tradetrace.exporters.memory import MemoryExporter


def flushed(rec: tt.Recorder, memory: MemoryExporter) -> list[tt.Record]:
    """Flush and return the memory exporter's records ordered by seq."""
    assert rec.flush(10), rec.health()
    return sorted(memory.records, key=lambda r: r.seq)


#: Text that breaks naive writers: scripts, combining marks, newlines, quotes, separators.
NASTY_TEXT = [
    "日本語 🚀",
    "e\u0301te\u0301 (combining acute accents)",
    "Z\u0351\u0352a\u0353l\u0354g\u0355o",
    "line one\nline two",
    "crlf\r\ninside",
    'she said "buy", then "sell"',
    'a,b,,c,"',
    "trailing space ",
    "  leading spaces",
    "tab\tinside",
    "'single quotes'",
    "\u200b zero width, \u00a0 no-break space, \u202e right-to-left",
    "back\\slash \\n not a newline",
]
