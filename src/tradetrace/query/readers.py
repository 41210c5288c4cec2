"""SQL that reads each export format into the shape of the unified ``records`` table.

Whatever was written (CSV, JSON Lines, Parquet, DuckDB), the ``records`` view has exactly the
columns and types of :data:`tradetrace.semconv.TABLE_COLUMNS`, and a value lands where the
DuckDB and Parquet exporters put it (see ``exporters/arrow_table.py``):

* each semconv attribute goes to its typed column when its value has the column's type; a value
  of another type stays in ``attributes`` under its semconv key;
* a number for a ``DECIMAL(38,18)`` column that does not fit exactly (more than 20 integer
  digits or 18 decimal places) is NULL there and its exact digits go to ``exact_text``;
* ``attributes`` holds only the keys without a column (NULL when there are none);
* ``time`` and ``observed_time`` are always derived from the exact nanosecond integers.

CSV cells are read as text (``all_varchar``), the ``'`` that the CSV exporter puts before text
starting with ``= + - @``, tab or CR is removed, and attributes that had no column in a kind's
file are taken from its JSON ``attributes`` cell. CSV cannot tell an empty string from a missing
value (both read as NULL), nor a text ``'=x`` written as is from a neutralised ``=x``.

Everything here is generated from ``semconv``: no column list is written by hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tradetrace import semconv as sc
from tradetrace.pipeline.run import Run

#: SQL type of each column of the ``records`` table.
TABLE_TYPES: dict[str, str] = dict(sc.TABLE_COLUMNS)
DECIMAL_TYPE = sc.SQL_TYPE_OF_VALUE["decimal"]
_DECIMAL_PLACES = 18
_INTEGER_DIGITS = 20
_DERIVED_TIMES = {"time": "time_ns", "observed_time": "observed_ns"}
_SPECS = tuple(sc.ATTRIBUTES.values())
_NUMBER = r"^\s*[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$"
_FORMULA_PREFIX = r"^'([=+\-@\t\r])"


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


#: Macros the generated SQL uses, created on each connection before the views. Number text is
#: taken apart with plain string functions (regular expressions cost too much per value).
MACROS: tuple[str, ...] = (
    "CREATE OR REPLACE MACRO tt_is_number(t) AS "
    f"regexp_full_match(t, {literal(_NUMBER)}) AND regexp_matches(t, '\\d')",
    # the digits and exponent Python's Decimal(t) holds: coefficient x 10^exponent
    "CREATE OR REPLACE MACRO tt_mantissa(t) AS ltrim(split_part(lower(trim(t)), 'e', 1), '+-')",
    "CREATE OR REPLACE MACRO tt_coefficient(t) AS "
    "coalesce(nullif(ltrim(replace(tt_mantissa(t), '.', ''), '0'), ''), '0')",
    "CREATE OR REPLACE MACRO tt_exponent(t) AS "
    "coalesce(TRY_CAST(nullif(split_part(lower(trim(t)), 'e', 2), '') AS INTEGER), 0) "
    "- length(split_part(tt_mantissa(t), '.', 2))",
    # text DuckDB cast to DECIMAL(38,18) without overflow: did the cast not round it? (trailing
    # zeros do not count, as in Python's Decimal)
    "CREATE OR REPLACE MACRO tt_unrounded(t) AS "
    "length(rtrim(replace(tt_mantissa(t), '.', ''), '0')) "
    "- length(split_part(tt_mantissa(t), '.', 1)) "
    "- coalesce(TRY_CAST(nullif(split_part(lower(trim(t)), 'e', 2), '') AS INTEGER), 0) "
    f"<= {_DECIMAL_PLACES}",
    # Python's format(Decimal(t), 'f'): the exact digits written to exact_text
    "CREATE OR REPLACE MACRO tt_plain_parts(negative, c, x) AS "
    "(CASE WHEN negative THEN '-' ELSE '' END) || CASE "
    "WHEN x >= 0 THEN c || repeat('0', x) "
    "WHEN length(c) + x > 0 THEN left(c, length(c) + x) || '.' || right(c, -x) "
    "ELSE '0.' || repeat('0', -(length(c) + x)) || c END",
    "CREATE OR REPLACE MACRO tt_plain(t) AS "
    "tt_plain_parts(starts_with(trim(t), '-'), tt_coefficient(t), tt_exponent(t))",
    "CREATE OR REPLACE MACRO tt_unprefix(t) AS "
    f"regexp_replace(t, {literal(_FORMULA_PREFIX)}, '\\1')",
    # a CSV cell of a JSON column: JSON text as it is, a plain string as a JSON string
    "CREATE OR REPLACE MACRO tt_csv_json(t) AS "
    "CASE WHEN json_valid(t) THEN CAST(t AS JSON) ELSE to_json(t) END",
)


def file_list(paths: Iterable[Path]) -> str:
    """A SQL list of file names."""
    return "[" + ", ".join(literal(str(path)) for path in paths) + "]"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_path(key: str) -> str:
    return literal('$."' + key.replace('"', '\\"') + '"')


def derived_time(ns_column: str) -> str:
    """TIMESTAMPTZ (microseconds, UTC) of an integer nanosecond column, rounded as DuckDB
    rounds when it stores a nanosecond timestamp (so the same as in a DuckDB export)."""
    return f"CAST(make_timestamp_ns({ns_column}) AS TIMESTAMPTZ)"


# --- attributes: typed column or back into ``attributes`` ------------------------------------
#
# Per row, ``_s``, ``_j`` and ``_t`` are the string, JSON and JSON type of every semconv key in
# the attributes object (one parse per row) and, for CSV, ``_c`` the file's cells of the
# attributes that have a column in it. ``_p`` says, per attribute, where its value goes: NULL
# (absent), ``0`` (not of its column's type: it stays in ``attributes``), ``1`` (its column),
# ``2`` (a decimal too wide for DECIMAL(38,18): its digits go to ``exact_text``).

_LIST_TYPE = sc.SQL_TYPE_OF_VALUE["int[]"]
_INTEGER_TEXT = literal(r"\s*-?\d+\s*")
_JSON_NUMBER = "('BIGINT', 'UBIGINT', 'DOUBLE')"
_JSON_INTEGER = "('BIGINT', 'UBIGINT')"
_ABSENT, _KEPT, _PLACED, _WIDE = "NULL", 0, 1, 2


def _cell_placed(kind: str, cell: str) -> str:
    """Whether a CSV cell (text) has the type of its column."""
    if kind in ("string", "json"):
        return "true"
    if kind in ("int", "time_ns"):
        return (
            f"(regexp_full_match({cell}, {_INTEGER_TEXT}) "
            f"AND TRY_CAST({cell} AS BIGINT) IS NOT NULL)"
        )
    if kind == "float":
        return f"TRY_CAST({cell} AS DOUBLE) IS NOT NULL"
    if kind == "bool":
        return f"lower({cell}) IN ('true', 'false')"
    return f"TRY_CAST(TRY_CAST({cell} AS JSON) AS {_LIST_TYPE}) IS NOT NULL"


_JSON_VALUED = ("json", "int[]")  # types whose column holds the JSON value, not its text
_JSON_SPECS = tuple(spec for spec in _SPECS if spec.type in _JSON_VALUED)
#: Position of each JSON-valued attribute in ``_j`` (the others' JSON is extracted when needed).
_JSON_INDEX = {spec.key: index for index, spec in enumerate(_JSON_SPECS, start=1)}


def _json_value(spec: sc.AttributeSpec) -> str:
    """The JSON of an attribute in the row's attributes object."""
    index = _JSON_INDEX.get(spec.key)
    return f"_j[{index}]" if index else f"json_extract(_attrs, {_json_path(spec.key)})"


def _decimal_code(text: str, of_number_type: str) -> str:
    """The ``_p`` code of a decimal given as ``text`` (see above)."""
    return (
        f"CASE WHEN NOT ({of_number_type}) THEN {_KEPT} "
        f"WHEN TRY_CAST(trim({text}) AS {DECIMAL_TYPE}) IS NOT NULL "
        f"THEN CASE WHEN tt_unrounded({text}) THEN {_PLACED} ELSE {_WIDE} END "
        f"WHEN tt_is_number({text}) THEN {_WIDE} ELSE {_KEPT} END"
    )


def _json_placed(kind: str, i: int) -> str:
    """Whether attribute ``i`` of the JSON object has the type of its column."""
    text, type_ = f"_s[{i}]", f"_t[{i}]"
    if kind == "string":
        return f"{type_} = 'VARCHAR'"
    if kind == "json":
        return f"{type_} IS NOT NULL"
    if kind in ("int", "time_ns"):
        return f"({type_} IN {_JSON_INTEGER} AND TRY_CAST({text} AS BIGINT) IS NOT NULL)"
    if kind == "float":
        return f"{type_} IN {_JSON_NUMBER}"
    if kind == "bool":
        return f"{type_} = 'BOOLEAN'"
    return f"TRY_CAST({_json_value(_SPECS[i - 1])} AS {_LIST_TYPE}) IS NOT NULL"


@dataclass(frozen=True)
class _Attribute:
    """The SQL of one attribute: its text, its JSON, and where it goes (its ``_p`` code)."""

    spec: sc.AttributeSpec
    index: int
    text: str
    json: str
    code: str

    @classmethod
    def of(cls, spec: sc.AttributeSpec, index: int, in_csv: bool) -> _Attribute:
        i, kind = index, spec.type
        json_type_ok = f"_t[{i}] IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE')"
        if in_csv:
            cell = f"_c[{i}]"
            as_json = "tt_csv_json" if kind in _JSON_VALUED else "to_json"
            text = f"coalesce({cell}, _s[{i}])"
            value = f"CASE WHEN {cell} IS NULL THEN {_json_value(spec)} ELSE {as_json}({cell}) END"
            absent = f"{cell} IS NULL AND _t[{i}] IS NULL"
            json_type_ok = f"{cell} IS NOT NULL OR {json_type_ok}"
        else:
            text, value, absent = f"_s[{i}]", _json_value(spec), f"_t[{i}] IS NULL"
        if kind == "decimal":
            where = _decimal_code(text, json_type_ok)
        else:
            placed = _json_placed(kind, i)
            if in_csv:
                cell_placed = _cell_placed(kind, f"_c[{i}]")
                placed = f"CASE WHEN _c[{i}] IS NULL THEN {placed} ELSE {cell_placed} END"
            where = f"CASE WHEN {placed} THEN {_PLACED} ELSE {_KEPT} END"
        code = f"CASE WHEN {absent} THEN {_ABSENT} ELSE {where} END"
        return cls(spec, i, text, value, code)

    def typed(self) -> str:
        """The typed column (NULL unless the value goes there)."""
        kind, text = self.spec.type, self.text
        if kind == "string":
            value = text
        elif kind == "json":
            value = self.json
        elif kind == "int[]":
            value = f"TRY_CAST({self.json} AS {TABLE_TYPES[self.spec.column]})"
        else:
            value = f"TRY_CAST(trim({text}) AS {TABLE_TYPES[self.spec.column]})"
        return (
            f"CASE WHEN _p[{self.index}] = {_PLACED} THEN {value} END AS {_ident(self.spec.column)}"
        )

    def leftover(self) -> str:
        """``key, JSON`` for ``json_object``: the value when it stays in ``attributes``."""
        return (
            f"{literal(self.spec.key)}, CASE WHEN _p[{self.index}] = {_KEPT} THEN {self.json} END"
        )


_REMOVE_SEMCONV_KEYS = literal("{" + ", ".join(f'"{spec.key}": null' for spec in _SPECS) + "}")
_KEY_PATHS = "[" + ", ".join(_json_path(spec.key) for spec in _SPECS) + "]"
_JSON_PATHS = "[" + ", ".join(_json_path(spec.key) for spec in _JSON_SPECS) + "]"
#: The attributes object without its semconv keys, or NULL when it has nothing else.
_OTHER_KEYS = (
    "CASE WHEN json_type(_attrs) = 'OBJECT' AND len(json_keys(_attrs)) "
    "> len(list_filter(_t, lambda t: t IS NOT NULL)) "
    f"THEN json_merge_patch(_attrs, {_REMOVE_SEMCONV_KEYS}) END"
)


_COLUMN_NAMES = "[" + ", ".join(literal(spec.column) for spec in _SPECS) + "]"


def _exact_text(csv: bool) -> str:
    """``exact_text``: the exact digits of each decimal too wide for its column, by column."""
    text = "coalesce(_c[i], _s[i])" if csv else "_s[i]"
    return (
        f"CASE WHEN list_contains(_p, {_WIDE}) THEN to_json(map_from_entries(list_transform("
        f"list_filter(range(1, {len(_SPECS) + 1}), lambda i: _p[i] = {_WIDE}), "
        f"lambda i: {{'k': {_COLUMN_NAMES}[i], 'v': tt_plain({text})}}))) END"
    )


def _attribute_columns(attributes: Sequence[_Attribute], csv: bool) -> list[str]:
    leftovers = ", ".join(a.leftover() for a in attributes)
    return [
        *(a.typed() for a in attributes),
        f"CASE WHEN list_contains(_p, {_KEPT}) THEN nullif(CAST(json_merge_patch("
        f"coalesce(_other, '{{}}'), json_object({leftovers})) AS VARCHAR), '{{}}')::JSON "
        f"ELSE _other END AS {sc.ATTRIBUTES_COLUMN}",
        f"{_exact_text(csv)} AS {sc.EXACT_TEXT_COLUMN}",
    ]


def _table_select(fields: dict[str, str]) -> str:
    """Every table column in TABLE_COLUMNS order, from ``fields`` (name -> SQL)."""
    return ",\n  ".join(f"{fields[name]} AS {_ident(name)}" for name, _ in sc.TABLE_COLUMNS)


def _final(inner: str, inner_columns: Iterable[str]) -> str:
    fields = {name: _ident(name) for name in inner_columns}
    for name, ns in _DERIVED_TIMES.items():
        fields[name] = derived_time(ns)
    return f"SELECT\n  {_table_select(fields)}\nFROM (\n{inner}\n)"


_ATTRIBUTE_OUTPUT = tuple(spec.column for spec in _SPECS) + (
    sc.ATTRIBUTES_COLUMN,
    sc.EXACT_TEXT_COLUMN,
)


def _with_attributes(fields: list[str], csv_columns: frozenset[str], source: str) -> str:
    """The record fields and every attribute column, ``attributes`` and ``exact_text`` from
    ``source`` (which has ``_attrs``, the JSON attributes, and for CSV the file's columns)."""
    extract = (
        f"json_extract_string(_attrs, {_KEY_PATHS}) AS _s, "
        f"json_extract(_attrs, {_JSON_PATHS}) AS _j, json_type(_attrs, {_KEY_PATHS}) AS _t"
    )
    if csv_columns:
        cells = ", ".join(
            (f"tt_unprefix(_raw.{_ident(spec.column)})" if spec.type in ("string", "json")
             else f"_raw.{_ident(spec.column)}")
            if spec.column in csv_columns else "NULL::VARCHAR"
            for spec in _SPECS
        )  # fmt: skip
        extract += f", [{cells}] AS _c"
    attributes = [
        _Attribute.of(spec, i, spec.column in csv_columns) for i, spec in enumerate(_SPECS, 1)
    ]
    codes = ", ".join(a.code for a in attributes)
    select = ",\n    ".join(fields + _attribute_columns(attributes, bool(csv_columns)))
    return (
        f"  SELECT\n    {select}\n  FROM (\n"
        f"    SELECT *, [{codes}] AS _p, {_OTHER_KEYS} AS _other\n"
        f"    FROM (SELECT *, {extract} FROM {source} AS _raw) AS _raw\n"
        "  ) AS _raw"
    )


def jsonl_records(files: Sequence[Path]) -> str:
    """``records`` from JSON Lines files (one object per record, attributes by semconv key)."""
    if not files:
        return empty_records()
    columns = {name: TABLE_TYPES[name] for name in sc.RECORD_COLUMNS}
    columns[sc.ATTRIBUTES_COLUMN] = "JSON"
    spec = "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in columns.items()) + "}"
    source = (
        f"(SELECT *, attributes AS _attrs FROM read_json({file_list(files)}, "
        f"format = 'newline_delimited', columns = {spec}, maximum_object_size = {2**30}))"
    )
    fields = [_ident(name) for name in sc.RECORD_COLUMNS]
    inner = _with_attributes(fields, frozenset(), source)
    return _final(inner, (*sc.RECORD_COLUMNS, *_ATTRIBUTE_OUTPUT))


def csv_options(files: Sequence[Path]) -> str:
    """``read_csv`` over ``files``: every column text, files of different kinds unioned."""
    return (
        f"read_csv({file_list(files)}, header = true, all_varchar = true, union_by_name = true, "
        f"delim = ',', quote = '\"', escape = '\"', max_line_size = {2**27})"
    )


def csv_records(files: Sequence[Path], present: Iterable[str]) -> str:
    """``records`` from CSV files whose (union of) header columns are ``present``."""
    if not files:
        return empty_records()
    have = frozenset(present)
    columns = frozenset(spec.column for spec in _SPECS) & have

    def cell(name: str) -> str:
        return f"_raw.{_ident(name)}" if name in have else "NULL"

    record_fields = []
    for name in sc.RECORD_COLUMNS:
        sql_type = TABLE_TYPES[name]
        if name in ("name", "run_id"):
            record_fields.append(f"tt_unprefix({cell(name)}) AS {name}")
        elif sql_type == "VARCHAR":
            record_fields.append(f"{cell(name)} AS {name}")
        elif sql_type.endswith("[]"):
            record_fields.append(
                f"TRY_CAST(TRY_CAST({cell(name)} AS JSON) AS {sql_type}) AS {name}"
            )
        else:
            record_fields.append(f"TRY_CAST({cell(name)} AS {sql_type}) AS {name}")
    attributes = _ident(sc.ATTRIBUTES_COLUMN) if sc.ATTRIBUTES_COLUMN in have else "NULL"
    source = f"(SELECT *, TRY_CAST({attributes} AS JSON) AS _attrs FROM {csv_options(files)})"
    inner = _with_attributes(record_fields, columns, source)
    return _final(inner, (*sc.RECORD_COLUMNS, *_ATTRIBUTE_OUTPUT))


def table_records(relation: str, present: Iterable[str]) -> str:
    """``records`` from a table or Parquet read that already has (some of) the table columns."""
    have = frozenset(present)
    fields = {}
    for name, sql_type in sc.TABLE_COLUMNS:
        source = _ident(name) if name in have else "NULL"
        fields[name] = f"CAST({source} AS {sql_type})"
    for name, ns in _DERIVED_TIMES.items():
        fields[name] = derived_time(fields[ns])
    return f"SELECT\n  {_table_select(fields)}\nFROM {relation}"


def empty_records() -> str:
    """``records`` with no rows."""
    fields = {name: f"CAST(NULL AS {sql_type})" for name, sql_type in sc.TABLE_COLUMNS}
    return f"SELECT\n  {_table_select(fields)}\nWHERE false"


# --- runs ------------------------------------------------------------------------------------


def _run_type(field: dataclasses.Field[object]) -> str:
    annotation = str(field.type)
    if annotation.startswith("int"):
        return "BIGINT"
    if annotation.startswith("dict"):
        return "JSON"
    return "VARCHAR"


#: Columns of the ``runs`` view: the fields of :class:`~tradetrace.pipeline.run.Run`.
RUN_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (field.name, _run_type(field)) for field in dataclasses.fields(Run)
)


def _runs_select(have: Iterable[str], cast: str) -> str:
    present = frozenset(have)
    return ", ".join(
        f"{cast}({_ident(name)} AS {sql_type}) AS {_ident(name)}"
        if name in present
        else f"CAST(NULL AS {sql_type}) AS {_ident(name)}"
        for name, sql_type in RUN_COLUMNS
    )


def runs_from(relation: str, present: Iterable[str], cast: str = "CAST") -> str:
    """``runs`` from a relation with (some of) the Run fields as columns."""
    return f"SELECT {_runs_select(present, cast)} FROM {relation}"


def jsonl_runs(files: Sequence[Path]) -> str:
    """``runs`` from ``{service}_runs.jsonl`` files."""
    if not files:
        return empty_runs()
    spec = "{" + ", ".join(f"{literal(n)}: {literal(t)}" for n, t in RUN_COLUMNS) + "}"
    relation = f"read_json({file_list(files)}, format = 'newline_delimited', columns = {spec})"
    return runs_from(relation, (name for name, _ in RUN_COLUMNS))


def empty_runs() -> str:
    """``runs`` with no rows."""
    return f"SELECT {_runs_select((), 'CAST')} WHERE false"
