"""The DuckDB exporter, driven through real Recorders and read back from the database file.

Every test shuts its Recorder down and checks that no batch failed before reading
``{tmp_path}/tradetrace.duckdb`` with a connection of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tradetrace import Recorder, SimulatedClock
from tradetrace import semconv as sc
from tradetrace.exporters.duckdb import DuckDBExporter, connect
from tradetrace.exporters.memory import MemoryExporter
from tradetrace.pipeline.run import Run
from tradetrace.records import Record

START = "2024-05-12T12:00:00Z"
START_NS = 1_715_515_200 * 1_000_000_000
CANARY = "sk-canary-123"
#: How DuckDB's DESCRIBE spells the SQL types of ``TABLE_COLUMNS``.
DESCRIBED = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}


def new_recorder(directory: Path, **kwargs: Any) -> Recorder:
    return Recorder(
        service_name="svc",
        exporters=("duckdb",),
        directory=directory,
        clock=SimulatedClock(START),
        mode="backtest",
        schedule_delay=0.01,
        **kwargs,
    )


def close(rec: Recorder) -> None:
    """Shut down and insist that every record reached the database."""
    assert rec.shutdown()
    health = rec.health()
    counters = health["exporters"]["duckdb"]
    assert counters["failed"] == 0 and counters["dropped"] == 0, health
    assert not health["internal_errors"], health


def query(directory: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` over ``{directory}/tradetrace.duckdb``, on a connection of its own."""
    with duckdb.connect(str(directory / "tradetrace.duckdb")) as con:
        return con.execute(sql).fetchall()


def fill(rec: Recorder, i: int = 0, **kwargs: Any) -> int:
    arguments: dict[str, Any] = {"symbol": "BTC-USDT", "side": "BUY", "price": 67_500 + i,
                                 "quantity": Decimal("0.5"), "fee": Decimal("0.01")}  # fmt: skip
    arguments.update(kwargs)
    return rec.record_fill(**arguments)


def records_of(count: int, run_id: str = "run-x") -> tuple[Run, list[Record]]:
    """Real records, made by a Recorder with a memory exporter."""
    memory = MemoryExporter()
    rec = Recorder(service_name="svc", exporters=(memory,), clock=SimulatedClock(START),
                   run_id=run_id, schedule_delay=0.01)  # fmt: skip
    for i in range(count):
        fill(rec, i, order_id=f"o-{i}")
    assert rec.shutdown()
    return rec.run, sorted(memory.records, key=lambda r: r.seq)


def count(directory: Path, table: str = "records") -> int:
    return int(query(directory, f"SELECT count(*) FROM {table}")[0][0])


# --- the schema ------------------------------------------------------------------------------


def test_every_column_is_typed_as_declared(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path)
    fill(rec)
    close(rec)
    described = query(tmp_path, "DESCRIBE records")
    assert [(name, kind) for name, kind, *_ in described] == [
        (name, DESCRIBED.get(sql, sql)) for name, sql in sc.TABLE_COLUMNS
    ]


def test_primary_key_is_run_and_seq_and_enforced(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, run_id="run-pk")
    fill(rec)
    close(rec)
    keys = query(
        tmp_path,
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = 'records' AND constraint_type = 'PRIMARY KEY'",
    )
    assert keys == [(["run_id", "seq"],)]
    insert = "INSERT INTO records (run_id, seq, kind, name) VALUES ('run-pk', {}, 'x', 'y')"
    with pytest.raises(duckdb.ConstraintException):
        query(tmp_path, insert.format(1))
    query(tmp_path, insert.format(2))
    assert count(tmp_path) == 2


def test_record_fields_and_times(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, run_id="run-f")
    with rec.span("rebalance", symbol="ETH-USDT") as span:
        rec.record_decision("quote", inputs={"gamma": Decimal("0.1")}, result={"bid": 1.5})
    close(rec)
    rows = query(
        tmp_path,
        "SELECT seq, kind, name, parent_seq, trace_id, span_id, time_ns, "
        "epoch_ns(time), json_extract(parameters, '$.gamma'), severity, status "
        "FROM records ORDER BY seq",
    )
    (s_seq, s_kind, s_name, s_parent, s_trace, s_span, s_ns, s_time, _, _, s_status) = rows[0]
    assert (s_seq, s_kind, s_name, s_parent, s_status) == (span.seq, "span", "rebalance", None,
                                                           "ok")  # fmt: skip
    assert len(s_trace) == 32 and len(s_span) == 16 and s_ns == START_NS == s_time
    _, d_kind, d_name, d_parent, d_trace, d_span, *_, gamma, severity, _ = rows[1]
    assert (d_kind, d_name, d_parent) == ("decision", "quote", span.seq)
    assert (d_trace, d_span) == (s_trace, s_span)
    assert json.loads(gamma) == "0.1" and severity == "INFO"


# --- exact numbers ---------------------------------------------------------------------------


def test_decimals_round_trip_exactly_and_wide_ones_keep_their_text(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path)
    fill(rec, price=Decimal("67500.123456789012345678"),
         quantity=Decimal("0.000000000000000001"), fee="0.1", realized_pnl=0.1)  # fmt: skip
    fill(rec, price=Decimal("0.1234567890123456789"),
         quantity=Decimal("123456789012345678901"), fee=Decimal("-2.5"))  # fmt: skip
    close(rec)
    rows = query(
        tmp_path,
        "SELECT price, size, fee, realized_pnl, exact_text FROM records ORDER BY seq",
    )
    assert rows[0] == (Decimal("67500.123456789012345678"), Decimal("0.000000000000000001"),
                       Decimal("0.1"), Decimal("0.1"), None)  # fmt: skip
    price, size, fee, _, exact = rows[1]
    assert price is None and size is None and fee == Decimal("-2.5")
    assert json.loads(exact) == {"price": "0.1234567890123456789",
                                 "size": "123456789012345678901"}  # fmt: skip


def test_values_of_the_wrong_type_land_in_attributes(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path)
    fill(rec, block_number="abc", gas_units=21_000, desk="mm-1")
    close(rec)
    [(block_number, gas_units, attributes)] = query(
        tmp_path, "SELECT block_number, gas_units, attributes FROM records"
    )
    assert block_number is None and gas_units == 21_000
    assert json.loads(attributes) == {sc.LEDGER_BLOCK_NUMBER: "abc", "desk": "mm-1"}


# --- append-only, crash recovery -------------------------------------------------------------


def test_exporting_the_same_batch_twice_inserts_it_once(tmp_path: Path) -> None:
    run, records = records_of(20)
    exporter = DuckDBExporter(tmp_path / "tradetrace.duckdb")
    exporter.open(run)
    exporter.export(records[:10])
    exporter.export(records[:10])  # redelivered after a crash
    exporter.export(records[5:20])  # overlapping
    assert exporter.force_flush(5)
    assert count(tmp_path) == 20
    assert query(
        tmp_path,
        "SELECT min(seq), max(seq), count(DISTINCT seq) FROM records",
    )[0] == (1, 20, 20)
    exporter.export(records)
    exporter.shutdown(5)
    assert count(tmp_path) == 20
    assert count(tmp_path, "runs") == 1


def test_duplicates_gathered_into_one_insert_are_written_once(tmp_path: Path) -> None:
    run, records = records_of(600)
    exporter = DuckDBExporter(tmp_path / "tradetrace.duckdb")
    exporter.open(run)
    full = records[:512]
    exporter.export(full)
    exporter.export(full)  # both gathered (full batches), one statement at the flush
    exporter.shutdown(5)
    assert count(tmp_path) == 512


def test_two_recorders_with_the_same_run_id_write_each_record_once(tmp_path: Path) -> None:
    for _ in range(2):
        rec = new_recorder(tmp_path, run_id="backtest-7", deterministic=True)
        for i in range(5):
            fill(rec, i)
        close(rec)
    assert count(tmp_path) == 5
    assert count(tmp_path, "runs") == 1


def test_full_batches_are_gathered_and_a_short_one_ends_the_burst(tmp_path: Path) -> None:
    run, records = records_of(700)
    exporter = DuckDBExporter(tmp_path / "tradetrace.duckdb")
    exporter.open(run)
    exporter.export(records[:512])
    assert count(tmp_path) == 0  # gathered: a full batch means more are coming
    exporter.export(records[512:600])
    assert count(tmp_path) == 600  # a short batch: the burst is over, everything is inserted
    exporter.export(records[600:])
    assert count(tmp_path) == 700
    exporter.shutdown(5)


def test_rows_are_inserted_a_row_group_at_a_time(tmp_path: Path) -> None:
    run, records = records_of(1_500)
    exporter = DuckDBExporter(tmp_path / "tradetrace.duckdb", insert_rows=1_000)
    exporter.open(run)
    for start in range(0, 1_024, 512):  # two full batches: 1 024 rows gathered
        exporter.export(records[start : start + 512])
    assert count(tmp_path) == 1_000  # one whole group inserted, 24 rows kept
    exporter.shutdown(5)
    assert count(tmp_path) == 1_024


# --- one writer per file ---------------------------------------------------------------------


def test_a_second_writer_process_gets_a_clear_error(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path)
    fill(rec)
    assert rec.flush(5)
    script = textwrap.dedent(f"""
        import tradetrace
        tradetrace.Recorder(service_name="other", exporters=("duckdb",),
                            directory={str(tmp_path)!r})
    """)  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode != 0
    assert "DatabaseLockedError" in done.stderr
    assert str(tmp_path / "tradetrace.duckdb") in done.stderr
    assert "one DuckDB database per writing process" in done.stderr
    assert "exporters=('parquet',)" in done.stderr
    assert "IOException" not in done.stderr and "IO Error" not in done.stderr
    fill(rec, 1)  # the first writer goes on unharmed
    close(rec)
    assert count(tmp_path) == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_writes_the_parents_file(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import json, os, sys
        import duckdb, tradetrace
        rec = tradetrace.Recorder(service_name="svc", exporters=("duckdb",),
                                  directory={str(tmp_path)!r}, schedule_delay=0.01)
        rec.record_fill(symbol="PARENT", side="BUY", price=1, quantity=1)
        assert rec.flush(5)
        pid = os.fork()
        if pid == 0:
            rec.record_fill(symbol="CHILD", side="BUY", price=1, quantity=1)
            rec.shutdown(5)
            health = rec.health()
            print(json.dumps({{"child": health["exporters"]["duckdb"],
                               "errors": health["internal_errors"]}}), flush=True)
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        rec.record_fill(symbol="PARENT", side="SELL", price=2, quantity=1)
        assert rec.shutdown(5)
        con = duckdb.connect({str(tmp_path / "tradetrace.duckdb")!r})
        symbols = [r[0] for r in con.execute("SELECT symbol FROM records ORDER BY seq").fetchall()]
        print(json.dumps({{"status": status, "symbols": symbols}}), flush=True)
    """)  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    child, parent = (json.loads(line) for line in done.stdout.splitlines())
    assert child["child"]["exported"] == 0 and child["child"]["failed"] == 1
    assert child["errors"].get("exporter_export:duckdb") == 1
    assert parent == {"status": 0, "symbols": ["PARENT", "PARENT"]}
    assert "forked from PID" in done.stderr  # logged once, with what to do instead


# --- runs, snapshots, secrets ----------------------------------------------------------------


def test_runs_table_has_the_run_and_its_resource(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path, run_id="run-r", strategy="avellaneda", environment="paper")
    fill(rec)
    close(rec)
    row = query(
        tmp_path,
        "SELECT run_id, service_name, mode, strategy, environment, clock_source, pid, "
        "started_ns // 1000 = epoch_us(started_time), "
        "json_extract_string(resource, '$.\"service.name\"'), "
        "json_extract_string(resource, '$.\"trading.strategy\"') FROM runs",
    )
    assert row == [("run-r", "svc", "backtest", "avellaneda", "paper", "simulated", os.getpid(),
                    True, "svc", "avellaneda")]  # fmt: skip


def test_snapshots_are_json_and_queryable(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path)
    rec.record_event("STAKE_DEPOSIT", venue="aave", token="USDC", amount="1000.5",
                     snapshot={"wallet": {"USDC": "99000.25", "ETH": 1.5},
                               "cex_accounts": {"binance": {"USDT": 250}}})  # fmt: skip
    close(rec)
    row = query(
        tmp_path,
        "SELECT typeof(wallet_balance_after), "
        "json_extract_string(wallet_balance_after, '$.wallet.USDC'), "
        "CAST(json_extract(wallet_balance_after, '$.wallet.ETH') AS DOUBLE), "
        "CAST(json_extract(cex_balance_after, '$.binance.USDT') AS INTEGER), amount, venue "
        "FROM records WHERE kind = 'event'",
    )[0]
    assert row == ("JSON", "99000.25", 1.5, 250, Decimal("1000.5"), "aave")


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    rec = new_recorder(tmp_path)
    fill(rec, api_key=CANARY, notes="visible-marker-42")
    rec.record_event("DEPOSIT", snapshot={"secret": CANARY, "wallet": {"USDC": 1}})
    close(rec)
    text = query(tmp_path, "SELECT string_agg(CAST(records AS VARCHAR), '') FROM records")[0][0]
    assert CANARY not in text and "[REDACTED]" in text
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"visible-marker-42" in raw  # the file holds text as it is: the check below is real
    assert CANARY.encode() not in raw


# --- an older file ---------------------------------------------------------------------------


def test_an_older_file_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "tradetrace.duckdb"
    con = connect(path)
    con.execute("CREATE TABLE records (seq BIGINT NOT NULL, run_id VARCHAR NOT NULL, "
                "kind VARCHAR, name VARCHAR, PRIMARY KEY (run_id, seq))")  # fmt: skip
    con.close()
    rec = new_recorder(tmp_path)
    fill(rec)
    close(rec)
    names = [r[0] for r in query(tmp_path, "DESCRIBE records")]
    assert names[:4] == ["seq", "run_id", "kind", "name"]
    assert set(names) == {name for name, _ in sc.TABLE_COLUMNS}
    assert query(tmp_path, "SELECT symbol, price FROM records") == [("BTC-USDT", Decimal(67_500))]
