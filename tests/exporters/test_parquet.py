"""The Parquet exporter, driven through real Recorders and read back by DuckDB, pandas, polars.

Files are ``{tmp_path}/parquet/kind=<kind>/date=<YYYY-MM-DD>/<run_id>-<n>.parquet``. Spark is not
installable here; its reader understands the same hive layout and Parquet types.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from tradetrace import Recorder, SimulatedClock
from tradetrace import semconv as sc
from tradetrace.exporters.arrow_table import SCHEMA
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.exporters.parquet import PARQUET_SCHEMA, ParquetExporter
from tradetrace.records import Record

START = "2024-05-12T23:59:59Z"
CANARY = "sk-canary-123"
PRICES = [Decimal("67500.123456789012345678"), Decimal("0.000000000000000001"), Decimal("1.5")]


def new_recorder(directory: Path, clock: SimulatedClock | None = None, **kwargs: Any) -> Recorder:
    return Recorder(
        service_name="svc",
        exporters=("parquet",),
        directory=directory,
        clock=clock or SimulatedClock(START),
        mode="backtest",
        schedule_delay=0.01,
        **kwargs,
    )


def close(rec: Recorder) -> None:
    assert rec.shutdown()
    health = rec.health()
    counters = health["exporters"]["parquet"]
    assert counters["failed"] == 0 and counters["dropped"] == 0, health
    assert not health["internal_errors"], health


def fill_record(seq: int) -> Record:
    return Record(seq, "run-a", "fill", "fill", 1_715_515_200 * 10**9, None, None, None, None,
                  None, None, None, None, None, {sc.FILL_PRICE: Decimal(seq)})  # fmt: skip


def files(directory: Path) -> list[Path]:
    return sorted((directory / "parquet").rglob("*.parquet"))


def layout(directory: Path) -> list[str]:
    return [str(p.relative_to(directory / "parquet")) for p in files(directory)]


def record_sample(directory: Path, run_id: str = "run-p") -> None:
    """Fills at 23:59:59 and after midnight, an event and an error: four partitions."""
    clock = SimulatedClock(START)
    rec = new_recorder(directory, clock, run_id=run_id)
    for price in PRICES:
        rec.record_fill(symbol="BTC-USDT", side="BUY", price=price, quantity="0.25", fee=0.1)
    rec.record_event("DEPOSIT", venue="aave", amount=Decimal("10.0000000000000000001"),
                     snapshot={"wallet": {"USDC": "100.5"}})  # fmt: skip
    clock.advance(timedelta(seconds=2))  # 2024-05-13
    rec.record_fill(symbol="ETH-USDT", side="SELL", price=Decimal("0.1234567890123456789"),
                    quantity=1)  # fmt: skip
    rec.record_error("Timeout", message="venue slow")
    close(rec)


# --- layout ----------------------------------------------------------------------------------


def test_hive_partitions_by_kind_and_utc_day_of_event_time(tmp_path: Path) -> None:
    record_sample(tmp_path)
    assert layout(tmp_path) == [
        "kind=error/date=2024-05-13/run-p-4.parquet",
        "kind=event/date=2024-05-12/run-p-2.parquet",
        "kind=fill/date=2024-05-12/run-p-1.parquet",
        "kind=fill/date=2024-05-13/run-p-3.parquet",
    ]
    assert not [p for p in (tmp_path / "parquet").rglob("*") if p.name.endswith(".tmp")]


def test_files_have_the_records_schema_with_exact_decimals(tmp_path: Path) -> None:
    record_sample(tmp_path)
    for path in files(tmp_path):
        schema = pq.read_schema(path)
        assert schema.equals(PARQUET_SCHEMA, check_metadata=False)
        assert schema.field("price").type == pa.decimal128(38, 18)
        assert schema.remove(schema.get_field_index("kind")).equals(
            SCHEMA.remove(SCHEMA.get_field_index("kind")), check_metadata=False
        )


def test_files_are_written_on_flush_and_not_before(tmp_path: Path) -> None:
    exporter = ParquetExporter(tmp_path / "parquet")
    exporter.export([fill_record(1)])
    assert files(tmp_path) == []  # gathered, not yet written
    assert exporter.force_flush(5)
    assert layout(tmp_path) == ["kind=fill/date=2024-05-12/run-a-1.parquet"]
    rec = new_recorder(tmp_path / "rec")
    rec.record_fill(symbol="BTC-USDT", side="BUY", price=1, quantity=1)
    assert rec.flush(5)
    assert len(files(tmp_path / "rec")) == 1
    rec.record_fill(symbol="BTC-USDT", side="BUY", price=2, quantity=1)
    close(rec)
    assert len(files(tmp_path / "rec")) == 2
    assert pq.read_table(files(tmp_path / "rec")[1]).column("price").to_pylist() == [Decimal(2)]


def test_many_batches_make_few_files(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, batch_size=50)
    for i in range(3_000):
        rec.record_fill(symbol="BTC-USDT", side="BUY", price=i + 1, quantity=1)
    close(rec)
    assert len(files(tmp_path)) == 1
    assert pq.ParquetFile(files(tmp_path)[0]).metadata.num_rows == 3_000


def test_a_file_is_written_when_its_rows_reach_the_threshold(tmp_path: Path) -> None:
    memory = MemoryExporter()
    rec = Recorder(exporters=(memory,), clock=SimulatedClock(START), run_id="run-t")
    for i in range(2_500):
        rec.record_fill(symbol="BTC-USDT", side="BUY", price=i + 1, quantity=1)
    assert rec.shutdown()
    batch: list[Record] = sorted(memory.records, key=lambda r: r.seq)
    exporter = ParquetExporter(tmp_path / "parquet", rows_per_file=1_000)
    exporter.open(rec.run)
    for start in range(0, 2_500, 100):
        exporter.export(batch[start : start + 100])
    assert [pq.ParquetFile(p).metadata.num_rows for p in files(tmp_path)] == [1_000, 1_000]
    exporter.shutdown(5)
    assert sorted(pq.ParquetFile(p).metadata.num_rows for p in files(tmp_path)) == [
        500, 1_000, 1_000
    ]  # fmt: skip
    assert exporter.files_written == files(tmp_path)


def test_two_runs_with_one_run_id_never_overwrite_each_other(tmp_path: Path) -> None:
    record_sample(tmp_path, run_id="same")
    record_sample(tmp_path, run_id="same")
    names = layout(tmp_path)
    assert len(names) == 8 and len(set(names)) == 8
    assert [n for n in names if n.startswith("kind=fill/date=2024-05-12/")] == [
        "kind=fill/date=2024-05-12/same-1.parquet",
        "kind=fill/date=2024-05-12/same-2.parquet",  # the next free name, never a replacement
    ]
    assert duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{tmp_path}/parquet/**/*.parquet')"
    ).fetchall() == [(12,)]


# --- readers ---------------------------------------------------------------------------------


def expected_fills() -> list[tuple[int, str, Decimal | None]]:
    return [(1, "2024-05-12", PRICES[0]), (2, "2024-05-12", PRICES[1]),
            (3, "2024-05-12", PRICES[2]), (5, "2024-05-13", None)]  # fmt: skip


def test_duckdb_reads_the_directory_as_it_is(tmp_path: Path) -> None:
    record_sample(tmp_path)
    glob = f"{tmp_path}/parquet/**/*.parquet"
    relation = f"read_parquet('{glob}', hive_partitioning = true)"
    rows = duckdb.sql(
        f"SELECT seq, CAST(date AS VARCHAR), price FROM {relation} WHERE kind = 'fill' ORDER BY seq"
    ).fetchall()
    assert rows == expected_fills()
    assert duckdb.sql(f"SELECT kind, count(*) FROM {relation} GROUP BY ALL ORDER BY 1").fetchall(
    ) == [("error", 1), ("event", 1), ("fill", 4)]  # fmt: skip
    exact, amount, usdc = duckdb.sql(
        f"SELECT (SELECT exact_text FROM {relation} WHERE seq = 5), "
        f"(SELECT exact_text FROM {relation} WHERE seq = 4), "
        f"(SELECT json_extract_string(wallet_balance_after, '$.wallet.USDC') FROM {relation} "
        "WHERE seq = 4)"
    ).fetchall()[0]
    assert exact == '{"price":"0.1234567890123456789"}'
    assert amount == '{"amount":"10.0000000000000000001"}'
    assert usdc == "100.5"


def test_pandas_reads_the_directory_as_it_is(tmp_path: Path) -> None:
    record_sample(tmp_path)
    frame = pd.read_parquet(tmp_path / "parquet")
    assert len(frame) == 6
    fills = frame[frame["kind"] == "fill"].sort_values("seq")
    columns = zip(fills["seq"], fills["date"], fills["price"], strict=True)
    got = [(int(s), str(d), None if pd.isna(p) else p) for s, d, p in columns]
    assert got == expected_fills()
    assert all(isinstance(p, Decimal) for p in fills["price"].dropna())


def test_polars_reads_the_files_as_they_are(tmp_path: Path) -> None:
    record_sample(tmp_path)
    glob = f"{tmp_path}/parquet/**/*.parquet"
    frame = pl.read_parquet(glob).sort("seq")
    assert frame.height == 6
    assert frame.schema["price"] == pl.Decimal(38, 18)
    fills = frame.filter(pl.col("kind") == "fill")
    assert fills["seq"].to_list() == [1, 2, 3, 5]
    assert fills["price"].to_list() == [p for _, _, p in expected_fills()]
    dated = pl.read_parquet(glob, hive_partitioning=True).sort("seq")
    assert [str(d) for d in dated.filter(pl.col("kind") == "fill")["date"]] == [
        d for _, d, _ in expected_fills()
    ]


# --- secrets and forks -----------------------------------------------------------------------


def test_secrets_never_reach_the_files(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path)
    rec.record_fill(symbol="BTC-USDT", side="BUY", price=1, quantity=1, api_key=CANARY,
                    notes="visible-marker-42")  # fmt: skip
    rec.record_event("DEPOSIT", snapshot={"secret": CANARY, "wallet": {"USDC": 1}})
    close(rec)
    raw = b"".join(p.read_bytes() for p in files(tmp_path))
    text = "".join(str(pq.read_table(p).to_pylist()) for p in files(tmp_path))
    assert "[REDACTED]" in text and CANARY not in text
    assert CANARY.encode() not in raw


def test_after_fork_forgets_the_parents_rows(tmp_path: Path) -> None:
    exporter = ParquetExporter(tmp_path / "parquet")
    exporter.export([fill_record(1)])
    exporter.after_fork()
    exporter.shutdown(5)
    assert files(tmp_path) == []


def test_an_unsafe_run_id_stays_inside_the_directory(tmp_path: Path) -> None:
    exporter = ParquetExporter(tmp_path / "out" / "parquet")
    r = Record(1, "../../escape", "fill", "fill", 1_715_515_200 * 10**9, None, None, None, None,
               None, None, None, None, None, {sc.FILL_PRICE: Decimal(1)})  # fmt: skip
    exporter.export([r])
    exporter.shutdown(5)
    written = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert [str(p) for p in written] == [
        "out/parquet/kind=fill/date=2024-05-12/run_______escape-1.parquet"
    ]
    assert pq.read_table(tmp_path / written[0]).column("run_id").to_pylist() == ["../../escape"]
