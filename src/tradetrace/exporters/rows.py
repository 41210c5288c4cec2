"""Records as rows: the column values of a record, in its kind's column order.

Shared by the exporters: the raw row of a kind (its columns in ``KIND_COLUMNS`` order), the
JSON Lines object of a record, and the way back from JSON to a Record. For speed, the function
that lays out one kind's row is generated once (:func:`compile_row`), so a row costs one call,
not one per column.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson

from tradetrace import semconv as sc
from tradetrace.records import Record

RawRow = list[Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NS_PER_DAY = 86_400 * 1_000_000_000


def decimal_text(value: Decimal) -> str:
    """Exact digits, never an exponent: ``Decimal("1E-7")`` -> ``"0.0000001"``."""
    return format(value, "f")


def safe_text(text: str) -> str:
    """``text`` encodable as UTF-8: a lone surrogate becomes ``\\udcff`` text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def json_default(value: Any) -> Any:
    """orjson fallback: Decimals as exact strings, anything else as its ``repr``."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    return repr(value)


JSON_INT_RANGE = range(-(2**63), 2**64)  # what orjson can write as a JSON number


def jsonable(value: Any) -> Any:
    """A copy orjson can always write: lone surrogates become ``\\udcff`` text (as in CSV
    files), ints beyond 64 bits become exact digit strings (as Decimals do)."""
    kind = type(value)
    if kind is str:
        return safe_text(value)
    if kind is int:
        return value if value in JSON_INT_RANGE else str(value)
    if kind is dict:
        return {jsonable(str(k)): jsonable(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [jsonable(item) for item in value]
    return value


def to_json(value: Any, option: int = 0) -> bytes:
    """Compact JSON; Decimals become exact strings. Never refuses a value (see ``jsonable``)."""
    try:
        return orjson.dumps(value, default=json_default, option=option)
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate or an int beyond 64 bits
        return orjson.dumps(jsonable(value), default=json_default, option=option)


class IsoTime:
    """ns -> ``2024-05-12T14:00:00.000000001Z``, computing the date part once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, ns: int) -> str:
        second, nanos = divmod(ns, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._prefix = (_EPOCH + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{nanos:09d}Z"


class DayName:
    """ns -> ``YYYYMMDD`` of its UTC day, cached per day."""

    def __init__(self) -> None:
        self._cache: dict[int, str] = {}

    def __call__(self, ns: int) -> str:
        day = ns // _NS_PER_DAY
        name = self._cache.get(day)
        if name is None:
            name = (_EPOCH + timedelta(days=day)).strftime("%Y%m%d")
            self._cache[day] = name
        return name


def hex_id(value: int | None, width: int) -> str | None:
    """Trace and span ids as lower-case hex (OpenTelemetry's text form)."""
    return None if value is None else format(value, f"0{width}x")


def compile_row(
    kind: sc.RecordKind, purpose: str, lines: list[str], namespace: dict[str, Any]
) -> Any:
    """Compile ``def row(r, iso): a = r.attributes; return [<lines>]`` (how namedtuple builds
    its classes): one call per row instead of one per column."""
    source = (
        "def row(r, iso):\n    a = r.attributes\n    return [\n"
        + "".join(f"        {line},\n" for line in lines)
        + "    ]\n"
    )
    exec(compile(source, f"<tradetrace {purpose} row {kind.value}>", "exec"), namespace)
    function = namespace["row"]
    function.__doc__ = f"{purpose} row of a {kind.value} record:\n\n{source}"
    return function


def _record_expression(column: str) -> str:
    if column == "trace_id":
        return "hex_id(r.trace_id, 32)"
    if column in ("span_id", "parent_span_id"):
        return f"hex_id(r.{column}, 16)"
    if column == "related_seqs":
        return "list(r.related_seqs) if r.related_seqs else None"
    return f"r.{column}"


def row_function(kind: sc.RecordKind) -> Callable[[Record, IsoTime], RawRow]:
    """Build ``row(record, iso) -> list`` of raw values in ``KIND_COLUMNS[kind]`` order.

    Raw values are Python values (Decimals, dicts, ...); the ``attributes`` cell holds a dict of
    the attributes without a column in this kind's file, or ``None``.
    """
    columns = sc.KIND_COLUMNS[kind]
    in_file = frozenset(sc.ATTRIBUTE_OF[c] for c in columns if c in sc.ATTRIBUTE_OF)
    lines = []
    for column in columns:
        if column == "timestamp":  # int / int is correctly rounded; ``/ 1e9`` rounds twice
            lines.append("r.time_ns / 1_000_000_000")
        elif column == "datetime_utc":
            lines.append("iso(r.time_ns)")
        elif column == sc.ATTRIBUTES_COLUMN:
            lines.append(
                "None if a.keys() <= in_file else {k: v for k, v in a.items() if k not in in_file}"
            )
        elif column in sc.ATTRIBUTE_OF:
            lines.append(f"a.get({sc.ATTRIBUTE_OF[column]!r})")
        else:
            lines.append(_record_expression(column))
    return compile_row(kind, "raw", lines, {"in_file": in_file, "hex_id": hex_id})


ROW_FUNCTIONS: dict[str, Callable[[Record, IsoTime], RawRow]] = {
    kind.value: row_function(kind) for kind in sc.RecordKind
}


def json_object(r: Record, iso: IsoTime) -> dict[str, Any]:
    """A record as one JSON Lines object: every field, attributes under their semconv keys."""
    return {
        "seq": r.seq,
        "run_id": r.run_id,
        "kind": r.kind,
        "name": r.name,
        "time_ns": r.time_ns,
        "datetime_utc": iso(r.time_ns),
        "observed_ns": r.observed_ns,
        "duration_ns": r.duration_ns,
        "trace_id": None if r.trace_id is None else format(r.trace_id, "032x"),
        "span_id": None if r.span_id is None else format(r.span_id, "016x"),
        "parent_span_id": None if r.parent_span_id is None else format(r.parent_span_id, "016x"),
        "parent_seq": r.parent_seq,
        "related_seqs": r.related_seqs,
        "severity": r.severity,
        "status": r.status,
        "attributes": r.attributes,
    }


_DECIMAL_KEYS = frozenset(k for k, spec in sc.ATTRIBUTES.items() if spec.type == "decimal")


def restore_decimals(attributes: dict[str, Any]) -> dict[str, Any]:
    """Turn the exact strings of semconv decimal attributes back into Decimals, in place.

    Marked text kept by the instrumentation (``<non-finite> nan``) stays text."""
    for key in _DECIMAL_KEYS.intersection(attributes):
        value = attributes[key]
        if type(value) is str:
            with contextlib.suppress(ArithmeticError):
                attributes[key] = Decimal(value)
    return attributes


def record_from_json(item: dict[str, Any]) -> Record:
    """Rebuild a :class:`Record` from a JSON Lines object (exact strings become Decimals)."""
    attributes = restore_decimals(dict(item.get("attributes") or {}))

    def ident(name: str) -> int | None:
        value = item.get(name)
        return None if value is None else int(value, 16)

    related = item.get("related_seqs")
    return Record(
        item["seq"], item["run_id"], item["kind"], item["name"], item["time_ns"],
        item.get("observed_ns"), item.get("duration_ns"), ident("trace_id"), ident("span_id"),
        ident("parent_span_id"), item.get("parent_seq"), tuple(related) if related else None,
        item.get("severity"), item.get("status"), attributes,
    )  # fmt: skip
