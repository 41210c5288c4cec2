"""A batch of records as one Arrow table in the unified ``records`` schema (DuckDB, Parquet).

The columns are exactly ``semconv.TABLE_COLUMNS``: record fields first (``time`` and
``observed_time`` as UTC nanosecond timestamps beside the exact integers), one typed column per
semconv attribute, then ``attributes`` and ``exact_text`` (JSON text).

The table is built column by column, never row by row: each attribute key present in the batch
becomes one Python list handed to ``pyarrow.array`` in one call, and a column nobody used is a
shared all-null array. A value pyarrow cannot take as it is falls back to a per-value path that
decides where it belongs:

* a number for a ``DECIMAL(38,18)`` column (``Decimal``, ``int``, ``float`` by its shortest
  ``repr``, decimal string) that fits exactly (at most 20 integer digits and 18 decimal places)
  goes to the column; one that does not fit gets NULL there and its exact text in
  ``exact_text`` (``{"price": "0.1234567890123456789"}``), never a rounded value. The fast
  paths go through decimal text parsed by Arrow, and refuse up front the values Arrow (and
  pyarrow's own Decimal conversion) would silently turn into 0 or wrap around; those take the
  per-value path, checked with Python's ``decimal``;
* a value of the wrong type for its column (a ``str`` in a ``BIGINT`` column, a ``dict`` in a
  ``VARCHAR`` one) goes to ``attributes`` under its semconv key, so the batch is never lost;
* strings with lone surrogates are written with ``\\udcff`` escapes, as in the CSV files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Context, Decimal, InvalidOperation
from itertools import chain, repeat
from operator import attrgetter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tradetrace import semconv as sc
from tradetrace.exporters.rows import hex_id, safe_text, to_json
from tradetrace.records import Record

DECIMAL = pa.decimal128(38, 18)
TIMESTAMP = pa.timestamp("ns", tz="UTC")

#: Arrow type of each SQL type of ``TABLE_COLUMNS`` (JSON is its text).
ARROW_TYPE_OF_SQL: dict[str, pa.DataType] = {
    "BIGINT": pa.int64(),
    "VARCHAR": pa.string(),
    "DECIMAL(38,18)": DECIMAL,
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "JSON": pa.string(),
    "TIMESTAMPTZ": TIMESTAMP,
    "BIGINT[]": pa.list_(pa.int64()),
}

#: The Arrow schema of the ``records`` table.
SCHEMA = pa.schema([pa.field(name, ARROW_TYPE_OF_SQL[sql]) for name, sql in sc.TABLE_COLUMNS])

_POSITION = {name: index for index, (name, _) in enumerate(sc.TABLE_COLUMNS)}
_NONE = type(None)
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_MAX_INTEGER_DIGITS = 20  # DECIMAL(38,18): 38 digits, 18 after the point
_FLOAT_LIMIT, _FLOAT_FLOOR = 1e20, 1e-18
_INT_LIMIT = 10**_MAX_INTEGER_DIGITS
_MIN_ADJUSTED = -18  # Decimal.adjusted() of 1E-18, the smallest step of DECIMAL(38,18)
_MAX_TEXT = 39  # characters of decimal text Arrow parses reliably: at most 38 digits
_QUANTUM = Decimal(1).scaleb(-18)
_EXACT = Context(prec=80)
_FIELDS = attrgetter(
    "seq", "run_id", "kind", "name", "time_ns", "observed_ns", "duration_ns", "trace_id",
    "span_id", "parent_span_id", "parent_seq", "related_seqs", "severity", "status", "attributes",
)  # fmt: skip

Spill = Callable[[int, str, Any], None]


# --- the per-value rules ---------------------------------------------------------------------


def exact_decimal(value: Any) -> Decimal | None:
    """``value`` as the Decimal it denotes (floats by shortest ``repr``), or None when it is not
    a number (``bool``, arbitrary objects, text that is no decimal)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(float(value)))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def fit_decimal(value: Decimal) -> Decimal | None:
    """``value`` at scale 18 when DECIMAL(38,18) holds it exactly, else None."""
    if not value.is_finite():
        return None
    if not value:
        return _QUANTUM * 0
    if value.adjusted() >= _MAX_INTEGER_DIGITS:
        return None
    try:
        scaled = value.quantize(_QUANTUM, context=_EXACT)
    except ArithmeticError:
        return None
    return scaled if scaled == value else None


# --- one column per SQL type -----------------------------------------------------------------


def _kinds(values: list[Any]) -> set[type]:
    kinds = set(map(type, values))
    kinds.discard(_NONE)
    return kinds


def _text_column(values: list[Any], column: str, spill: Spill) -> pa.Array:
    if _kinds(values) <= {str}:
        try:
            first = values[0]
            if first is not None and values.count(first) == len(values):  # run id, symbol, ...
                return pa.repeat(pa.scalar(first, pa.string()), len(values))
            return pa.array(values, pa.string())
        except UnicodeEncodeError:
            pass
    cells: list[str | None] = []
    for row, value in enumerate(values):
        if value is None or not isinstance(value, str):
            if value is not None:
                spill(row, column, value)
            cells.append(None)
        else:
            cells.append(safe_text(str.__str__(value)))
    return pa.array(cells, pa.string())


def _int_column(values: list[Any], column: str, spill: Spill) -> pa.Array:
    if _kinds(values) <= {int}:
        try:
            return pa.array(values, pa.int64())
        except (OverflowError, pa.ArrowException):
            pass
    cells: list[int | None] = []
    for row, value in enumerate(values):
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and _INT_MIN <= value <= _INT_MAX:
            cells.append(int(value))
        else:
            if value is not None:
                spill(row, column, value)
            cells.append(None)
    return pa.array(cells, pa.int64())


def _float_column(values: list[Any], column: str, spill: Spill) -> pa.Array:
    if _kinds(values) <= {float}:
        return pa.array(values, pa.float64())
    cells: list[float | None] = []
    for row, value in enumerate(values):
        if isinstance(value, float) or (
            isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 2**53
        ):
            cells.append(float(value))
        else:
            if value is not None:
                spill(row, column, value)
            cells.append(None)
    return pa.array(cells, pa.float64())


def _bool_column(values: list[Any], column: str, spill: Spill) -> pa.Array:
    if _kinds(values) <= {bool}:
        return pa.array(values, pa.bool_())
    cells: list[bool | None] = []
    for row, value in enumerate(values):
        if isinstance(value, bool):
            cells.append(value)
        else:
            if value is not None:
                spill(row, column, value)
            cells.append(None)
    return pa.array(cells, pa.bool_())


def _floats_as_decimals(values: list[Any]) -> pa.Array:
    """Floats (and None) as exact decimals, each by its shortest ``repr``: Arrow's float -> text
    cast writes the shortest round-trip digits, as ``repr`` does, and text -> decimal refuses
    (never rounds) what has more than 18 places. Magnitudes that cannot fit (1e20 and more,
    below 1e-18 but not zero) are refused here first: Arrow's text -> decimal cast gets some of
    them wrong without a word (``3.402823466e+38`` wraps around, ``2.4e-239`` becomes 0)."""
    floats = pa.array(values, pa.float64())
    magnitude = pc.abs(floats)
    out_of_range = pc.or_(
        pc.greater_equal(magnitude, _FLOAT_LIMIT),
        pc.and_(pc.greater(magnitude, 0.0), pc.less(magnitude, _FLOAT_FLOOR)),
    )
    if pc.any(out_of_range).as_py():
        raise OverflowError("a float out of DECIMAL(38,18) range")
    return floats.cast(pa.string()).cast(DECIMAL)


def _numbers_as_decimals(values: list[Any]) -> pa.Array:
    """Decimals and ints (and None) as exact decimals, through their text, which Arrow parses
    faster than pyarrow converts Decimal objects. Arrow refuses what has more than 18 places,
    but only for text of at most 38 digits: pyarrow and Arrow both turn some longer or tinier
    values into 0 without a word (``55.2832365731803676535053794121736364774264``), so those
    (more than 39 characters, or a magnitude outside [1e-18, 1e20)) are refused here first."""
    texts: list[str | None] = []
    append = texts.append
    for value in values:
        if value is None:
            append(None)
            continue
        if type(value) is Decimal:
            if value and not _MIN_ADJUSTED <= value.adjusted() < _MAX_INTEGER_DIGITS:
                raise OverflowError("a Decimal out of DECIMAL(38,18) range")
        elif not -_INT_LIMIT < value < _INT_LIMIT:
            raise OverflowError("an int out of DECIMAL(38,18) range")
        append(str(value))
    text = pa.array(texts, pa.string())
    if pc.max(pc.utf8_length(text)).as_py() > _MAX_TEXT:
        raise OverflowError("a Decimal with too many digits")
    return text.cast(DECIMAL)


def _decimal_column(values: list[Any], column: str, spill: Spill) -> pa.Array:
    kinds = _kinds(values)
    try:
        if kinds == {float}:
            return _floats_as_decimals(values)
        if kinds <= {Decimal, int}:
            return _numbers_as_decimals(values)
    except (ArithmeticError, pa.ArrowException):
        pass
    cells: list[Decimal | None] = []
    for row, value in enumerate(values):
        number = None if value is None else exact_decimal(value)
        if number is None:
            if value is not None:
                spill(row, column, value)
            cells.append(None)
            continue
        scaled = fit_decimal(number)
        if scaled is None:
            spill(row, sc.EXACT_TEXT_COLUMN, (column, format(number, "f")))
        cells.append(scaled)
    return pa.array(cells, DECIMAL)


def _float_decimals(
    columns: list[tuple[str, list[Any]]],
) -> list[tuple[str, pa.Array | None]]:
    """Decimal columns holding only floats, converted in one pass (as ``_decimal_column``
    does); None for every column if any value does not fit, for the per-column path."""
    flat = list(chain.from_iterable(values for _, values in columns))
    try:
        whole = _floats_as_decimals(flat)
    except (ArithmeticError, pa.ArrowException):
        return [(column, None) for column, _ in columns]
    result: list[tuple[str, pa.Array | None]] = []
    offset = 0
    for column, values in columns:
        result.append((column, whole.slice(offset, len(values))))
        offset += len(values)
    return result


def _json_column(values: list[Any], column: str, spill: Spill) -> pa.Array:
    return pa.array([None if v is None else to_json(v) for v in values], pa.string())


def _int_list_column(values: list[Any], column: str, spill: Spill) -> pa.Array:
    list_type = ARROW_TYPE_OF_SQL["BIGINT[]"]
    if _kinds(values) <= {list, tuple}:
        try:
            return pa.array(values, list_type)
        except (OverflowError, TypeError, pa.ArrowException):
            pass
    cells: list[list[int] | None] = []
    for row, value in enumerate(values):
        if isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) and _INT_MIN <= v <= _INT_MAX
            for v in value
        ):
            cells.append([int(v) for v in value])
        else:
            if value is not None:
                spill(row, column, value)
            cells.append(None)
    return pa.array(cells, list_type)


_COLUMN_BUILDERS: dict[str, Callable[[list[Any], str, Spill], pa.Array]] = {
    "VARCHAR": _text_column,
    "BIGINT": _int_column,
    "DOUBLE": _float_column,
    "BOOLEAN": _bool_column,
    "DECIMAL(38,18)": _decimal_column,
    "JSON": _json_column,
    "BIGINT[]": _int_list_column,
}
_BUILDER_OF_COLUMN = {
    name: _COLUMN_BUILDERS[sql] for name, sql in sc.TABLE_COLUMNS if sql in _COLUMN_BUILDERS
}


# --- the table -------------------------------------------------------------------------------


class _NullColumns:
    """All-null columns, shared between batches (Arrow arrays are immutable), so a batch pays
    nothing for the columns it does not use, and gathered batches no memory. Longer batches
    get chunked columns made of one shared block, repeated."""

    def __init__(self, block: int = 4096, lengths: int = 8) -> None:
        self._block = block
        self._limit = lengths
        self._by_length: dict[int, list[pa.Array]] = {}

    def _arrays(self, length: int) -> list[pa.Array]:
        arrays = self._by_length.get(length)
        if arrays is None:
            if len(self._by_length) >= self._limit:
                self._by_length.pop(next(iter(self._by_length)))
            arrays = [pa.nulls(length, field.type) for field in SCHEMA]
            self._by_length[length] = arrays
        return arrays

    def get(self, length: int) -> list[pa.Array | pa.ChunkedArray]:
        if length <= self._block:
            return list(self._arrays(length))
        full, rest = divmod(length, self._block)
        blocks = self._arrays(self._block)
        tails = self._arrays(rest) if rest else [None] * len(blocks)
        return [
            pa.chunked_array([block] * full + ([tail] if tail is not None else []), block.type)
            for block, tail in zip(blocks, tails, strict=True)
        ]


_NULLS = _NullColumns()


def _hex_ids(ids: tuple[int | None, ...], width: int) -> list[str | None] | None:
    if ids.count(None) == len(ids):
        return None
    return [hex_id(i, width) for i in ids]


def records_table(batch: Sequence[Record]) -> pa.Table:
    """The records of ``batch`` as a table with schema :data:`SCHEMA` (one row per record)."""
    n = len(batch)
    if n == 0:
        return SCHEMA.empty_table()
    arrays = _NULLS.get(n)
    (seq, run_id, kind, name, time_ns, observed_ns, duration_ns, trace_id, span_id,
     parent_span_id, parent_seq, related_seqs, severity, status, attributes,
     ) = zip(*map(_FIELDS, batch), strict=True)  # fmt: skip
    extras: list[dict[str, Any] | None] = [None] * n
    exact: list[dict[str, str] | None] = [None] * n

    def spill(row: int, column: str, value: Any) -> None:
        if column == sc.EXACT_TEXT_COLUMN:
            target = exact[row]
            if target is None:
                target = exact[row] = {}
            target[value[0]] = value[1]
            return
        target = extras[row]
        if target is None:
            target = extras[row] = {}
        target[sc.ATTRIBUTE_OF.get(column, column)] = value

    def put(column: str, values: Any) -> None:
        arrays[_POSITION[column]] = _BUILDER_OF_COLUMN[column](values, column, spill)

    put("seq", seq)
    put("run_id", run_id)
    put("kind", kind)
    put("name", name)
    times = pa.array(time_ns, pa.int64())
    arrays[_POSITION["time_ns"]] = times
    arrays[_POSITION["time"]] = times.view(TIMESTAMP)
    if observed_ns.count(None) != n:
        observed = pa.array(observed_ns, pa.int64())
        arrays[_POSITION["observed_ns"]] = observed
        arrays[_POSITION["observed_time"]] = observed.view(TIMESTAMP)
    for column, values in (("duration_ns", duration_ns), ("parent_seq", parent_seq),
                           ("related_seqs", related_seqs), ("severity", severity),
                           ("status", status)):  # fmt: skip
        if values.count(None) != n:
            put(column, values)
    for column, values, width in (("trace_id", trace_id, 32), ("span_id", span_id, 16),
                                  ("parent_span_id", parent_span_id, 16)):  # fmt: skip
        ids = _hex_ids(values, width)
        if ids is not None:
            arrays[_POSITION[column]] = pa.array(ids, pa.string())

    column_of = sc.COLUMN_OF
    unmapped: list[str] = []
    floats: list[tuple[str, list[Any]]] = []  # decimal columns of floats only: cast together
    for key in sorted(set().union(*attributes)):  # sorted: the same output on every run
        column = column_of.get(key)
        if column is None:
            unmapped.append(key)
            continue
        values = list(map(dict.get, attributes, repeat(key)))
        if column in sc.DECIMAL_COLUMNS and _kinds(values) == {float}:
            floats.append((column, values))
        else:
            put(column, values)
    if floats:
        for column, array in _float_decimals(floats):
            if array is None:
                put(column, dict(floats)[column])
            else:
                arrays[_POSITION[column]] = array
    if unmapped:
        others = frozenset(unmapped)
        for row, a in enumerate(attributes):
            if not others.isdisjoint(a):
                target = extras[row]
                if target is None:
                    target = extras[row] = {}
                target.update((k, v) for k, v in a.items() if k in others)

    if extras.count(None) != n:
        put(sc.ATTRIBUTES_COLUMN, extras)
    if exact.count(None) != n:
        put(sc.EXACT_TEXT_COLUMN, exact)
    return pa.Table.from_arrays(arrays, schema=SCHEMA)
