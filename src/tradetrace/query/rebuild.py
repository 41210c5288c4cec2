"""Rows of the ``records`` view back into :class:`~tradetrace.records.Record` objects.

What ``tail`` prints (through the console exporter's format) and what ``export`` hands to an
exporter. Typed columns become attributes under their semconv keys again, exact numbers too
wide for DECIMAL(38,18) come back from ``exact_text``, and the keys without a column from
``attributes``. Decimals lose the trailing zeros of the table's fixed scale (``67500.10``
comes back as ``67500.1``, the same number).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

from tradetrace import semconv as sc
from tradetrace.query.render import plain_decimal
from tradetrace.records import Record

_RECORD_FIELDS = ("seq", "run_id", "kind", "name", "time_ns", "observed_ns", "duration_ns")
_IDS = ("trace_id", "span_id", "parent_span_id")


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


class RecordBuilder:
    """Turns rows with the given ``columns`` (those of ``records``) into Records."""

    def __init__(self, columns: Sequence[str]) -> None:
        position = {name: index for index, name in enumerate(columns)}
        self._position = position
        self._attributes = [
            (position[spec.column], spec.key, spec.type)
            for spec in sc.ATTRIBUTES.values()
            if spec.column in position
        ]

    def __call__(self, row: Sequence[Any]) -> Record:
        at = self._position
        attributes: dict[str, Any] = {}
        for index, key, kind in self._attributes:
            value = row[index]
            if value is None:
                continue
            if kind == "decimal":
                value = plain_decimal(value)
            elif kind == "json":
                value = _json(value)
            elif kind == "int[]":
                value = list(value)
            attributes[key] = value
        exact = _json(row[at[sc.EXACT_TEXT_COLUMN]]) if sc.EXACT_TEXT_COLUMN in at else None
        for column, digits in (exact or {}).items():
            attributes[sc.ATTRIBUTE_OF.get(column, column)] = Decimal(digits)
        rest = _json(row[at[sc.ATTRIBUTES_COLUMN]]) if sc.ATTRIBUTES_COLUMN in at else None
        if isinstance(rest, dict):
            attributes.update(rest)
        ids = [None if row[at[n]] is None else int(row[at[n]], 16) for n in _IDS]
        related = row[at["related_seqs"]]
        return Record(
            *(row[at[name]] for name in _RECORD_FIELDS), *ids, row[at["parent_seq"]],
            tuple(related) if related else None, row[at["severity"]], row[at["status"]],
            attributes,
        )  # fmt: skip
