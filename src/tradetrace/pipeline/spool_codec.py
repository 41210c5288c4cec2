"""A Record as the bytes of one spool frame, and back.

The payload is one compact JSON array of the Record's fields in :attr:`Record.FIELDS` order,
written with the same encoder as the JSON Lines exporter (Decimals as exact strings, ints beyond
64 bits as digit strings, lone surrogates as ``\\udcff`` text). The trace id, 128 bits, is hex.
Reading back restores what every exporter writes identically: semconv decimal attributes become
``Decimal`` again; a Decimal nested in a custom attribute comes back as its exact text, which
every exporter writes the same way as the Decimal (JSON string, CSV text).
"""

from __future__ import annotations

import orjson

from tradetrace.exporters.rows import restore_decimals, to_json
from tradetrace.records import Record


def encode(r: Record) -> bytes:
    """The payload of ``r``."""
    trace = r.trace_id
    fields = (
        r.seq, r.run_id, r.kind, r.name, r.time_ns, r.observed_ns, r.duration_ns,
        None if trace is None else format(trace, "x"), r.span_id, r.parent_span_id,
        r.parent_seq, r.related_seqs, r.severity, r.status, r.attributes,
    )  # fmt: skip
    return to_json(fields)


def decode(payload: bytes) -> Record:
    """The Record of a payload written by :func:`encode` (``ValueError`` if it is not one)."""
    fields = orjson.loads(payload)
    if type(fields) is not list or len(fields) != 15 or type(fields[14]) is not dict:
        raise ValueError("not a tradetrace spool record")
    trace, related = fields[7], fields[11]
    return Record(
        fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6],
        None if trace is None else int(trace, 16), fields[8], fields[9], fields[10],
        None if related is None else tuple(related), fields[12], fields[13],
        restore_decimals(fields[14]),
    )  # fmt: skip
