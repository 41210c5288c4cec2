"""Opening a SOURCE: which format is read, the one ``records`` schema, clear errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from recorded_session import WIDE_AMOUNT, Session, available_exporters

import tradetrace as tt
from tradetrace import semconv as sc
from tradetrace.exporters.arrow_table import records_table
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.query.source import SourceError, open_source

ALL_FORMATS = ("duckdb", "parquet", "jsonl", "csv")
AVAILABLE = available_exporters()


def formats() -> list[object]:
    """Every source format; DuckDB and Parquet skipped (visibly) until their exporters exist."""
    return [
        pytest.param(
            name,
            marks=pytest.mark.skipif(
                name not in AVAILABLE,
                reason=f"no {name!r} exporter in tradetrace.exporters.registry.FACTORIES yet",
            ),
        )
        for name in ALL_FORMATS
    ]


_DESCRIBED = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}


@pytest.mark.parametrize("format", formats())
def test_records_view_has_exactly_the_table_columns(session: Session, format: str) -> None:
    with open_source(session.directory, format=format) as source:
        described = source.sql("DESCRIBE records").fetchall()
    assert [(row[0], row[1]) for row in described] == [
        (name, _DESCRIBED.get(sql, sql)) for name, sql in sc.TABLE_COLUMNS
    ]


def test_a_directory_prefers_duckdb_then_parquet_then_jsonl_then_csv(
    session_copy: Session,
) -> None:
    root = session_copy.directory
    present = [name for name in ALL_FORMATS if name in AVAILABLE]
    folders = {"parquet": "parquet", "jsonl": "json", "csv": "csv"}
    for expected in present:
        with open_source(root) as source:
            assert source.format == expected
        if expected == "duckdb":
            (root / "tradetrace.duckdb").unlink()
        else:
            shutil.rmtree(root / folders[expected])
    with pytest.raises(SourceError, match="is not a tradetrace export"):
        open_source(root)


@pytest.mark.parametrize("format", formats())
def test_format_argument_overrides_the_preference(session: Session, format: str) -> None:
    with open_source(session.directory, format=format) as source:
        assert source.format == format
        (count,) = source.sql("SELECT count(*) FROM records").fetchall()[0]
    assert count == max(session.seqs.values())  # seqs 1..N, the last one is named


def test_a_sub_folder_or_a_single_file_is_a_source(session: Session) -> None:
    root = session.directory
    with open_source(root / "json") as source:
        assert source.format == "jsonl"
    with open_source(root / "csv") as source:
        assert source.format == "csv"
        assert source.sql("SELECT count(*) FROM runs").fetchall() == [(1,)]
    (fills_file,) = (root / "json").glob("s_fills_20240512.jsonl")
    with open_source(fills_file) as source:
        kinds = source.sql("SELECT DISTINCT kind FROM records").fetchall()
        assert kinds == [("fill",)]
    if "duckdb" in AVAILABLE:
        with open_source(root / "tradetrace.duckdb") as source:
            assert source.format == "duckdb"
            assert source.sql("SELECT count(*) FROM runs").fetchall() == [(1,)]


def test_missing_or_foreign_sources_get_one_line_errors(tmp_path: Path, session: Session) -> None:
    with pytest.raises(SourceError, match="no such file or directory"):
        open_source(tmp_path / "nowhere")
    with pytest.raises(SourceError, match="is not a tradetrace export"):
        open_source(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(SourceError, match="is not a tradetrace export"):
        open_source(text)
    deep = tmp_path / "project" / "data" / "other.parquet"  # parquet somewhere below: not ours
    deep.parent.mkdir(parents=True)
    deep.write_bytes(b"PAR1")
    with pytest.raises(SourceError, match="is not a tradetrace export"):
        open_source(tmp_path / "project")
    with pytest.raises(SourceError, match="has no Parquet records") as info:
        open_source(session.directory / "json", format="parquet")
    assert "\n" not in str(info.value)
    with pytest.raises(SourceError, match="unknown format"):
        open_source(session.directory, format="xlsx")


@pytest.mark.skipif("duckdb" not in AVAILABLE, reason="no 'duckdb' exporter registered yet")
def test_a_duckdb_file_locked_by_a_live_writer_gets_a_clear_error(session_copy: Session) -> None:
    path = session_copy.directory / "tradetrace.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
         "time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(SourceError, match="is locked by process") as info:
            open_source(path)
        assert str(holder.pid) in str(info.value) and "\n" not in str(info.value)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("format", formats())
def test_values_come_back_where_the_table_exporters_put_them(session: Session, format: str) -> None:
    seqs = session.seqs
    with open_source(session.directory, format=format) as source:

        def one(sql: str) -> tuple[object, ...]:
            (row,) = source.sql(sql).fetchall()
            return row

        # CSV's formula neutralisation (a leading ') is undone
        assert one(f"SELECT notes FROM records WHERE seq = {seqs['f1']}") == ("-opening trade",)
        assert one(f"SELECT reason FROM records WHERE seq = {seqs['decision']}") == (
            "=Avellaneda-Stoikov",
        )
        # too wide for DECIMAL(38,18): NULL in its column, exact digits in exact_text
        amount, exact = one(f"SELECT amount, exact_text FROM records WHERE seq = {seqs['stake']}")
        assert amount is None and json.loads(exact) == {"amount": WIDE_AMOUNT}
        # attributes holds only the keys without a column
        attributes, fee = one(f"SELECT attributes, fee FROM records WHERE seq = {seqs['f2']}")
        assert json.loads(attributes) == {"strategy_tag": "mm"} and fee == Decimal("0.00001")
        assert one(f"SELECT attributes FROM records WHERE seq = {seqs['f1']}") == (None,)
        # typed columns: booleans, ints, JSON, lists of the right type
        passed, limit = one(
            f"SELECT passed, limit_value FROM records WHERE seq = {seqs['risk_ok']}"
        )
        assert passed is True and limit == Decimal("0.05")
        blocks, updates = one(
            f"SELECT confirmation_blocks, updates_seq FROM records WHERE seq = {seqs['confirmed']}"
        )
        assert (blocks, updates) == (12, seqs["stake"])
        (inputs,) = one(f"SELECT parameters FROM records WHERE seq = {seqs['decision']}")
        assert json.loads(inputs) == {"gamma": 0.1, "sigma": 0.02, "k": 1.5}
        time_ns, time = one(f"SELECT time_ns, time FROM records WHERE seq = {seqs['f1']}")
        assert time_ns == 1_715_508_000_000_000_000 and time.isoformat() == (
            "2024-05-12T10:00:00+00:00"
        )


def test_odd_values_land_where_the_table_exporters_put_them(tmp_path: Path) -> None:
    """Wrong-typed attributes, too-wide and exponent numbers, formula-like text: CSV and JSON
    Lines read back exactly as ``arrow_table`` (the DuckDB and Parquet exporters) lays out."""
    memory = MemoryExporter()
    rec = tt.Recorder(
        service_name="odd", exporters=("csv", "jsonl", memory), directory=tmp_path,
        clock=tt.SimulatedClock("2024-05-12T10:00:00Z"), mode="live",
    )  # fmt: skip
    rec.record_fill(
        symbol="BTC-USDT", side="BUY", price="0.1234567890123456789", quantity="1e3",
        fee=1e-20, fee_currency="=BTC", realized_pnl=1.5e25, spread_captured=0.1,
        inventory_before=10**30, order_id="@x", venue="-v", iteration="not an int",
        confirmation_blocks=12.0, reduce_only=1, custom={"a": [1, 2]}, other="'=literal",
    )  # fmt: skip
    rec.record_fill(
        symbol="BTC-USDT", side="SELL", price=Decimal("1E+2"), quantity="0.10000000000000000000",
        fee=-0.0, equity_before=Decimal("-12.50"), retryable=True, block_number=2**70,
        net_result="plain text", trigger_time_ns=1_715_508_000_000_000_001,
    )  # fmt: skip
    rec.record_decision("hold", inputs={}, result="hold", reason="\tTab")
    assert rec.shutdown(10)
    expected = duckdb.connect()
    expected.register("batch", records_table(sorted(memory.records, key=lambda r: r.seq)))
    cast = ", ".join(f'CAST("{name}" AS {sql}) AS "{name}"' for name, sql in sc.TABLE_COLUMNS)
    want = expected.sql(f"SELECT {cast} FROM batch ORDER BY seq").fetchall()

    def normal(row: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(json.loads(v) if isinstance(v, str) and v[:1] in "{[" else v for v in row)

    for format in ("jsonl", "csv"):
        with open_source(tmp_path, format=format) as source:
            got = source.sql("SELECT * FROM records ORDER BY seq").fetchall()
        assert [normal(r) for r in got] == [normal(r) for r in want], format
