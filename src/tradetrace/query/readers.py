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
_PLAIN_FIT = rf"^-?\d{{1,{_INTEGER_DIGITS}}}(\.\d{{1,{_DECIMAL_PLACES}}})?$"
_FORMULA_PREFIX = r"^'([=+\-@\t\r])"


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


#: Macros the generated SQL uses, created on each connection before the views.
MACROS: tuple[str, ...] = (
    # the parts of a decimal number's text: integer digits, fraction digits, exponent
    f"CREATE OR REPLACE MACRO tt_parts(t) AS "
    f"regexp_extract(t, {literal(_NUMBER)}, ['i', 'f', 'e'])",
    "CREATE OR REPLACE MACRO tt_is_number(t) AS "
    f"regexp_full_match(t, {literal(_NUMBER)}) AND regexp_matches(t, '\\d')",
    # digits and exponent as Python's Decimal holds them
    "CREATE OR REPLACE MACRO tt_coefficient(p) AS "
    "coalesce(nullif(ltrim(p.i || p.f, '0'), ''), '0')",
    "CREATE OR REPLACE MACRO tt_exponent(p) AS "
    "coalesce(TRY_CAST(nullif(p.e, '') AS INTEGER), 0) - length(p.f)",
    # exactly representable in DECIMAL(38,18)? (trailing zeros do not count, as in Decimal)
    "CREATE OR REPLACE MACRO tt_fits_parts(c, x) AS c = '0' OR "
    f"(length(c) + x <= {_INTEGER_DIGITS} "
    f"AND length(rtrim(c, '0')) - length(c) - x <= {_DECIMAL_PLACES})",
    "CREATE OR REPLACE MACRO tt_fits(t) AS CASE WHEN t IS NULL THEN NULL "
    f"WHEN regexp_full_match(t, {literal(_PLAIN_FIT)}) THEN true "
    "ELSE tt_fits_parts(tt_coefficient(tt_parts(t)), tt_exponent(tt_parts(t))) END",
    # Python's format(Decimal(t), 'f'): the exact digits written to exact_text
    "CREATE OR REPLACE MACRO tt_plain_parts(negative, c, x) AS "
    "(CASE WHEN negative THEN '-' ELSE '' END) || CASE "
    "WHEN x >= 0 THEN c || repeat('0', x) "
    "WHEN length(c) + x > 0 THEN left(c, length(c) + x) || '.' || right(c, -x) "
    "ELSE '0.' || repeat('0', -(length(c) + x)) || c END",
    "CREATE OR REPLACE MACRO tt_plain(t) AS tt_plain_parts("
    "starts_with(trim(t), '-'), tt_coefficient(tt_parts(t)), tt_exponent(tt_parts(t)))",
    f"CREATE OR REPLACE MACRO tt_decimal(t) AS CASE WHEN tt_fits(t) "
    f"THEN TRY_CAST(trim(t) AS {DECIMAL_TYPE}) END",
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
    """TIMESTAMPTZ (microseconds, UTC) of an integer nanosecond column."""
    return f"CAST(make_timestamp({ns_column} // 1000) AS TIMESTAMPTZ)"


# --- attributes: typed column or back into ``attributes`` ------------------------------------
#
# Every semconv attribute of a row is handled by one lambda over the list of all of them (so the
# SQL does not grow with the number of attributes): ``_s``, ``_j`` and ``_t`` are the string,
# JSON and JSON type of each key in the row's attributes object (one parse per row), ``_c`` the
# CSV cells of the attributes that have a column in the file. The lambda gives, per attribute,
# its text, its JSON, whether its value has the column's type (``placed``), whether a decimal
# fits DECIMAL(38,18) and, if not, its exact digits.

_N = len(_SPECS)
_TYPES = "[" + ", ".join(literal(spec.type) for spec in _SPECS) + "]"
_LIST_TYPE = sc.SQL_TYPE_OF_VALUE["int[]"]
_INTEGER_TEXT = literal(r"\s*-?\d+\s*")


def _cell_placed(cell: str) -> str:
    """Whether a CSV cell (text) has its column's type."""
    return (
        f"CASE ty WHEN 'string' THEN true WHEN 'json' THEN true "
        f"WHEN 'decimal' THEN tt_is_number({cell}) "
        f"WHEN 'int' THEN regexp_full_match({cell}, {_INTEGER_TEXT}) "
        f"AND TRY_CAST({cell} AS BIGINT) IS NOT NULL "
        f"WHEN 'time_ns' THEN regexp_full_match({cell}, {_INTEGER_TEXT}) "
        f"AND TRY_CAST({cell} AS BIGINT) IS NOT NULL "
        f"WHEN 'float' THEN TRY_CAST({cell} AS DOUBLE) IS NOT NULL "
        f"WHEN 'bool' THEN lower({cell}) IN ('true', 'false') "
        f"ELSE TRY_CAST(TRY_CAST({cell} AS JSON) AS {_LIST_TYPE}) IS NOT NULL END"
    )


_JSON_PLACED = (
    "CASE ty WHEN 'string' THEN _t[i] = 'VARCHAR' WHEN 'json' THEN _t[i] IS NOT NULL "
    "WHEN 'decimal' THEN _t[i] IN ('BIGINT', 'UBIGINT', 'DOUBLE') "
    "OR (_t[i] = 'VARCHAR' AND tt_is_number(_s[i])) "
    "WHEN 'int' THEN _t[i] IN ('BIGINT', 'UBIGINT') AND TRY_CAST(_s[i] AS BIGINT) IS NOT NULL "
    "WHEN 'time_ns' THEN _t[i] IN ('BIGINT', 'UBIGINT') "
    "AND TRY_CAST(_s[i] AS BIGINT) IS NOT NULL "
    "WHEN 'float' THEN _t[i] IN ('BIGINT', 'UBIGINT', 'DOUBLE') "
    "WHEN 'bool' THEN _t[i] = 'BOOLEAN' "
    f"ELSE TRY_CAST(_j[i] AS {_LIST_TYPE}) IS NOT NULL END"
)


def _element(csv: bool) -> str:
    """The lambda's struct for each attribute ``i`` present in the row (NULL when absent)."""
    if csv:
        present = "_t[i] IS NOT NULL OR _c[i] IS NOT NULL"
        text = "coalesce(_c[i], _s[i])"
        value = (
            "CASE WHEN _c[i] IS NULL THEN _j[i] WHEN ty IN ('json', 'int[]') "
            "THEN tt_csv_json(_c[i]) ELSE to_json(_c[i]) END"
        )
        placed = f"CASE WHEN _c[i] IS NOT NULL THEN {_cell_placed('_c[i]')} ELSE {_JSON_PLACED} END"
    else:
        present, text, value, placed = "_t[i] IS NOT NULL", "_s[i]", "_j[i]", _JSON_PLACED
    return (
        f"list_transform(range(1, {_N + 1}), lambda i: CASE WHEN {present} THEN "
        f"list_transform([{_TYPES}[i]], lambda ty: {{'text': {text}, 'json': {value}, "
        f"'placed': {placed}, 'fits': CASE WHEN ty = 'decimal' THEN tt_fits({text}) END}})[1] "
        "END)"
    )


#: The exact digits of each decimal that does not fit DECIMAL(38,18), from the lambda's ``_v``.
_EXACT_DIGITS = (
    "list_transform(_v, lambda e: CASE WHEN e.placed AND NOT e.fits THEN tt_plain(e.text) END)"
)


def _typed(index: int, spec: sc.AttributeSpec) -> str:
    """The typed column of attribute ``index`` from the lambda's list ``_v``."""
    v = f"_v[{index}]"
    kind = spec.type
    if kind == "string":
        value = f"{v}.text"
    elif kind == "json":
        value = f"{v}.json"
    elif kind == "decimal":
        value = f"CASE WHEN {v}.fits THEN TRY_CAST(trim({v}.text) AS {DECIMAL_TYPE}) END"
    elif kind == "int[]":
        value = f"TRY_CAST({v}.json AS {TABLE_TYPES[spec.column]})"
    else:
        value = f"TRY_CAST(trim({v}.text) AS {TABLE_TYPES[spec.column]})"
    return f"CASE WHEN {v}.placed THEN {value} END AS {_ident(spec.column)}"


_REMOVE_SEMCONV_KEYS = literal("{" + ", ".join(f'"{spec.key}": null' for spec in _SPECS) + "}")
_KEY_PATHS = "[" + ", ".join(_json_path(spec.key) for spec in _SPECS) + "]"
_LEFTOVERS = ", ".join(
    f"{literal(spec.key)}, CASE WHEN NOT _v[{i}].placed THEN _v[{i}].json END"
    for i, spec in enumerate(_SPECS, start=1)
)
_EXACT = ", ".join(
    f"{literal(spec.column)}, _x[{i}]"
    for i, spec in enumerate(_SPECS, start=1)
    if spec.type == "decimal"
)
_ATTRIBUTE_COLUMNS = [
    *(_typed(i, spec) for i, spec in enumerate(_SPECS, start=1)),
    "nullif(CAST(json_merge_patch(CASE WHEN json_type(_attrs) = 'OBJECT' "
    f"THEN json_merge_patch(_attrs, {_REMOVE_SEMCONV_KEYS}) ELSE '{{}}' END, "
    f"json_object({_LEFTOVERS})) AS VARCHAR), '{{}}')::JSON AS {sc.ATTRIBUTES_COLUMN}",
    f"nullif(CAST(json_merge_patch('{{}}', json_object({_EXACT})) AS VARCHAR), '{{}}')::JSON "
    f"AS {sc.EXACT_TEXT_COLUMN}",
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
        f"json_extract(_attrs, {_KEY_PATHS}) AS _j, json_type(_attrs, {_KEY_PATHS}) AS _t"
    )
    if csv_columns:
        cells = ", ".join(
            (f"tt_unprefix(_raw.{_ident(spec.column)})" if spec.type in ("string", "json")
             else f"_raw.{_ident(spec.column)}")
            if spec.column in csv_columns else "NULL::VARCHAR"
            for spec in _SPECS
        )  # fmt: skip
        extract += f", [{cells}] AS _c"
    select = ",\n    ".join(fields + _ATTRIBUTE_COLUMNS)
    return (
        f"  SELECT\n    {select}\n  FROM (\n"
        f"    SELECT *, {_EXACT_DIGITS} AS _x FROM (\n"
        f"      SELECT *, {_element(bool(csv_columns))} AS _v\n"
        f"      FROM (SELECT *, {extract} FROM {source} AS _raw) AS _raw\n"
        "    ) AS _raw\n"
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
        fields[name] = (
            f"CAST({_ident(name)} AS {sql_type})" if name in have else (f"CAST(NULL AS {sql_type})")
        )
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
