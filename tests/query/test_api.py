"""``tt.query``, ``tt.summary`` and ``tt.verify`` as the public API."""

from __future__ import annotations

import gc
from decimal import Decimal
from pathlib import Path

import pytest
from recorded_session import EXPECTED_SUMMARY, Session

import tradetrace as tt
from tradetrace.query.source import SourceError, open_source


def test_the_three_functions_are_the_public_face() -> None:
    assert {"query", "summary", "verify"} <= set(tt.__all__)
    assert callable(tt.query) and callable(tt.summary) and callable(tt.verify)


def test_query_returns_a_relation_usable_after_the_call(session: Session) -> None:
    relation = tt.query(
        "SELECT order_id, price, size FROM fills ORDER BY seq", source=session.directory
    )
    gc.collect()  # the relation keeps its connection alive
    assert relation.fetchall()[0] == ("o-1", Decimal("60000"), Decimal("0.01"))
    frame = relation.df()
    assert list(frame.columns) == ["order_id", "price", "size"] and len(frame) == 5
    assert relation.arrow().read_all().num_rows == 5
    assert relation.pl().height == 5


def test_an_open_source_serves_several_queries(session: Session) -> None:
    with open_source(session.directory, format="csv") as source:
        assert tt.query("SELECT count(*) FROM decisions", source=source).fetchall() == [(3,)]
        assert tt.summary(source) == EXPECTED_SUMMARY
        assert tt.verify(source).ok
        assert source.sql("SELECT count(*) FROM errors").fetchall() == [(4,)]  # still open


def test_the_default_source_is_the_configured_directory(session: Session, tmp_path: Path) -> None:
    recorder = tt.configure(service_name="api", exporters=("jsonl",), directory=tmp_path)
    try:
        tt.record_fill(symbol="BTC-USDT", side="BUY", price="1.5", quantity="2", realized_pnl="1")
        assert tt.flush(10)
        assert tt.query("SELECT price, size FROM fills").fetchall() == [
            (Decimal("1.5"), Decimal("2"))
        ]
        assert tt.summary()["winning_trades"] == 1
        assert tt.verify().ok
        assert recorder.directory == tmp_path
    finally:
        tt.shutdown()


def test_a_bad_source_raises_a_value_error_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or directory") as info:
        tt.query("SELECT 1", source=tmp_path / "missing")
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="is not a tradetrace export"):
        tt.summary(tmp_path)
