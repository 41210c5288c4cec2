"""Damage an export on purpose: remove, duplicate or rewrite one record in its files."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

Row = dict[str, Any]


def _jsonl(directory: Path, seq: int, change: Callable[[Row], list[Row]]) -> None:
    for path in sorted((directory / "json").glob("*.jsonl")):
        if "_runs" in path.name:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        out: list[str] = []
        for line in lines:
            item = json.loads(line)
            if item["seq"] == seq:
                out.extend(json.dumps(changed) for changed in change(item))
            else:
                out.append(line)
        if out != lines:
            path.write_text("".join(line + "\n" for line in out), encoding="utf-8")
            return
    raise AssertionError(f"no JSON Lines record with seq {seq}")


def _csv(directory: Path, seq: int, change: Callable[[Row], list[Row]]) -> None:
    for path in sorted((directory / "csv").glob("*.csv")):
        if "_runs" in path.name:
            continue
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
        if not any(row["seq"] == str(seq) for row in rows):
            continue
        header = list(rows[0])
        with open(path, "w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, header)
            writer.writeheader()
            for row in rows:
                writer.writerows(change(row) if row["seq"] == str(seq) else [row])
        return
    raise AssertionError(f"no CSV record with seq {seq}")


def _parquet(directory: Path, seq: int, change: Callable[[Row], list[Row]]) -> None:
    for path in sorted((directory / "parquet").rglob("*.parquet")):
        table = pq.read_table(path)
        chosen = pc.equal(table["seq"], seq)
        if not pc.any(chosen).as_py():
            continue
        kept = table.filter(pc.invert(chosen))
        (row,) = table.filter(chosen).to_pylist()
        added = change(row)
        if added:
            kept = pa.concat_tables([kept, pa.Table.from_pylist(added, schema=table.schema)])
        pq.write_table(kept, path)
        return
    raise AssertionError(f"no Parquet record with seq {seq}")


def _duckdb(directory: Path, seq: int, change: Callable[[Row], list[Row]]) -> None:
    """Remove only: the DuckDB table's primary key refuses a duplicate."""
    connection = duckdb.connect(str(directory / "tradetrace.duckdb"))
    try:
        relation = connection.sql(f"SELECT * FROM records WHERE seq = {int(seq)}")
        rows = relation.fetchall()
        assert len(rows) == 1, f"no DuckDB record with seq {seq}"
        assert change(dict(zip(relation.columns, rows[0], strict=True))) == [], "remove only"
        connection.execute("DELETE FROM records WHERE seq = ?", [seq])
    finally:
        connection.close()


_EDITORS = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet, "duckdb": _duckdb}


def remove_record(directory: Path, format: str, seq: int) -> None:
    """Delete the record ``seq`` from the ``format`` files under ``directory``."""
    _EDITORS[format](directory, seq, lambda row: [])


def duplicate_record(directory: Path, format: str, seq: int) -> None:
    """Write the record ``seq`` twice."""
    _EDITORS[format](directory, seq, lambda row: [row, row])


def retarget_update(directory: Path, seq: int, updates_seq: int) -> None:
    """Make the JSON Lines lifecycle update ``seq`` name event ``updates_seq``."""

    def change(row: Row) -> list[Row]:
        row["attributes"]["trading.event.updates_seq"] = updates_seq
        return [row]

    _jsonl(directory, seq, change)
