"""A Record as the bytes of one spool frame, and back.

The payload is one compact JSON array of the Record's fields in :attr:`Record.FIELDS` order,
written with the same encoder as the JSON Lines exporter (Decimals as exact strings, ints beyond
64 bits as digit strings, lone surrogates as ``\\udcff`` text). The trace id, 128 bits, is hex.
Reading back restores what every exporter writes identically: semconv decimal attributes become
``Decimal`` again; a Decimal nested in a custom attribute comes back as its exact text, which
every exporter writes the same way as the Decimal (JSON string, CSV text).

A semconv attribute with a column of its own is written by type (a ``str`` in a CSV cell may
get a formula guard, a DuckDB text column takes a ``str`` but not a ``Decimal``), so a Decimal
or a wide int under any other semconv key is named in a 16th element, ``{key: "d" | "i"}``
(only when there is one: most payloads have 15), and restored as such.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from tradetrace import semconv as sc
from tradetrace.exporters.rows import JSON_INT_RANGE, restore_decimals, to_json
from tradetrace.records import Record

_SEMCONV_KEYS = frozenset(sc.ATTRIBUTES)
_DECIMAL_KEYS = frozenset(k for k, spec in sc.ATTRIBUTES.items() if spec.type == "decimal")



def _text_typed(attributes: dict[str, Any]) -> dict[str, str] | None:
    """Semconv keys whose value JSON turns into text but an exporter writes by type."""
    marks = None
    for key, value in attributes.items():
        kind = type(value)
        if kind is Decimal:
            mark = "d"
        elif kind is int and value not in JSON_INT_RANGE:
            mark = "i"
        else:
            continue
        if key in _SEMCONV_KEYS and (mark == "i" or key not in _DECIMAL_KEYS):
            if marks is None:
                marks = {}
            marks[key] = mark
    return marks


def encode(r: Record) -> bytes:
    """The payload of ``r``."""
    trace = r.trace_id
    fields: tuple[Any, ...] = (
        r.seq, r.run_id, r.kind, r.name, r.time_ns, r.observed_ns, r.duration_ns,
        None if trace is None else format(trace, "x"), r.span_id, r.parent_span_id,
        r.parent_seq, r.related_seqs, r.severity, r.status, r.attributes,
    )  # fmt: skip
    marks = _text_typed(r.attributes)
    if marks is not None:
        fields = (*fields, marks)
    return to_json(fields)


def decode(payload: bytes) -> Record:
    """The Record of a payload written by :func:`encode` (``ValueError`` if it is not one)."""
    fields = orjson.loads(payload)
    if type(fields) is not list or len(fields) not in (15, 16) or type(fields[14]) is not dict:
        raise ValueError("not a tradetrace spool record")
    attributes = fields[14]
    if len(fields) == 16:
        marks = fields[15]
        if type(marks) is not dict:
            raise ValueError("not a tradetrace spool record")
        for key, mark in marks.items():
            value = attributes.get(key)
            if type(value) is str:
                attributes[key] = Decimal(value) if mark == "d" else int(value)
    trace, related = fields[7], fields[11]
    return Record(
        fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6],
        None if trace is None else int(trace, 16), fields[8], fields[9], fields[10],
        None if related is None else tuple(related), fields[12], fields[13],
        restore_decimals(attributes),
    )  # fmt: skip
